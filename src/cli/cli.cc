#include "cli/cli.h"

#include <iostream>

#include "cli/commands.h"

namespace sskai::cli {

std::function<void()> Wrap(std::shared_ptr<GlobalFlags> flags, int* exit_code,
                           std::function<Status(Api&)> body) {
  return [flags, exit_code, body = std::move(body)] {
    auto api = Api::Connect(*flags);
    if (!api.ok()) {
      std::cerr << "error: " << api.status().message() << "\n";
      *exit_code = 2;
      return;
    }
    Status st = body(*api);
    if (!st.ok()) {
      std::cerr << "error: " << st.message() << "\n";
      *exit_code = st.code() == StatusCode::kUnavailable ? 2 : 1;
      return;
    }
    *exit_code = 0;
  };
}

void AddClientCommands(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<GlobalFlags>();
  app.add_option("--server", flags->server, "API URL (env SSKAI_SERVER; default http://127.0.0.1:8080)");
  app.add_option("--token", flags->token, "API token (env SSKAI_TOKEN; default ./var/admin.token)");
  app.add_flag("--json", flags->json, "print JSON instead of tables");
  AddDataCommands(app, flags, exit_code);
  AddModelCommands(app, flags, exit_code);
  AddJobCommands(app, flags, exit_code);
  AddServeCommands(app, flags, exit_code);
  AddPlanCommands(app, flags, exit_code);
  AddCatalogCommands(app, flags, exit_code);
  AddTokenizeCommands(app, exit_code);
  AddCostCommands(app, flags, exit_code);
  AddChatCommands(app, flags, exit_code);
  AddFinetuneCommand(app, flags, exit_code);
}

}  // namespace sskai::cli
