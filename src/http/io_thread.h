// Internal: which http::Server io context the current thread runs (for AsyncClient's thread
// affinity, http/async_client.h).
#pragma once

#include <memory>

#include "http/beast.h"

namespace sskai::http::internal {

// The io_context of the http::Server whose io thread calls this; null on any other thread.
// The server's io threads set it for their whole life.
const std::shared_ptr<net::io_context>& CurrentServerIo();
void SetCurrentServerIo(std::shared_ptr<net::io_context> ioc);

}  // namespace sskai::http::internal
