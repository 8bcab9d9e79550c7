// ResponseStream: the producer's handle of a chunked response body.
#include "http/response_stream.h"

namespace sskai::http {

std::shared_ptr<ResponseStream> ResponseStream::Create() {
  return std::shared_ptr<ResponseStream>(new ResponseStream());
}

ResponseStream::ResponseStream() : impl_(std::make_shared<Impl>()) {}

ResponseStream::~ResponseStream() { Close(); }

bool ResponseStream::Write(std::string data) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->closed || impl_->cancelled) return false;
    if (data.empty()) return true;
    impl_->pending += data;
    notify = impl_->notify;
  }
  if (notify) notify();
  return true;
}

void ResponseStream::Close() {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->closed) return;
    impl_->closed = true;
    notify = impl_->notify;
  }
  if (notify) notify();
}

bool ResponseStream::cancelled() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->cancelled;
}

void ResponseStream::OnCancel(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->cancelled) {
      impl_->on_cancel = std::move(fn);
      return;
    }
  }
  if (fn) fn();
}

void ResponseStream::Impl::SetNotify(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu);
  notify = std::move(fn);
}

void ResponseStream::Impl::Take(std::string* out, bool* is_closed) {
  std::lock_guard<std::mutex> lock(mu);
  out->swap(pending);
  pending.clear();
  *is_closed = closed;
}

void ResponseStream::Impl::Cancel() {
  std::function<void()> fn;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (cancelled) return;
    cancelled = true;
    pending.clear();
    notify = nullptr;
    fn = std::move(on_cancel);
  }
  if (fn) fn();
}

}  // namespace sskai::http
