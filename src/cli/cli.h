// src/cli/cli.h — the client verbs of `sskai` (data, models, train, jobs, deploy, endpoints,
// predict, users): HTTP calls to a server, human-readable tables by default, --json for scripts.
//
// Server URL and token, highest precedence first: --server/--token flags; SSKAI_SERVER /
// SSKAI_TOKEN; the config file ($SSKAI_CONFIG or ~/.config/sskai/config.json, keys "server" and
// "token"); defaults http://127.0.0.1:8080 and the token in $SSKAI_DATA_DIR/admin.token or
// ./var/admin.token when readable (the embedded default's admin).
// Thread-safety: single-threaded (a CLI).
#pragma once

namespace CLI {
class App;
}

namespace sskai::cli {

// Registers the client subcommands on `app`. When one runs, its exit code is stored in
// *exit_code (0 ok, 1 the server said no or the job failed, 2 usage or connection error).
void AddClientCommands(CLI::App& app, int* exit_code);

}  // namespace sskai::cli
