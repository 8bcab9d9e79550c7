// Cost planning: POST /v1/plans (train or serve), GET /v1/plans, POST /v1/profiles/lm, GET /v1/catalog
// and POST /v1/catalog/refresh, over the planner module; request inputs are in plan_inputs.cc.
#include <cmath>
#include <optional>
#include <set>

#include "api/plan_inputs.h"

namespace sskai::api {

namespace {


Result<bool> BoolField(const json& obj, const std::string& name, bool def) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_boolean()) {
    return Status::InvalidArgument("field '" + name + "': expected true or false, got " + it->dump());
  }
  return it->get<bool>();
}

Result<std::vector<std::string>> StringList(const json& obj, const std::string& name) {
  std::vector<std::string> out;
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return Status::InvalidArgument("field '" + name + "': expected an array of strings");
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return Status::InvalidArgument("field '" + name + "': expected non-empty strings, got " + v.dump());
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<json> SubObject(const json& body, const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return Status::InvalidArgument("field '" + name + "' is required");
  if (!it->is_object()) return Status::InvalidArgument("field '" + name + "': expected an object");
  return *it;
}

Result<planner::TrainRequest> ParseTrain(const json& body) {
  planner::TrainRequest r;
  SSKAI_ASSIGN_OR_RETURN(json w, SubObject(body, "workload"));
  SSKAI_ASSIGN_OR_RETURN(r.workload.params, Positive(w, "workload", "params", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.workload.tokens, Positive(w, "workload", "tokens", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.workload.layers, WholeNumber(w, "workload", "layers", 0, 0, 100000));
  SSKAI_ASSIGN_OR_RETURN(r.workload.d_model, WholeNumber(w, "workload", "d_model", 0, 0, 1 << 20));
  SSKAI_ASSIGN_OR_RETURN(r.workload.seq_len, WholeNumber(w, "workload", "seq_len", 1024, 1, 1 << 24));
  SSKAI_ASSIGN_OR_RETURN(r.workload.micro_batch, WholeNumber(w, "workload", "micro_batch", 8, 1, 1 << 16));
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> trainable,
                         NumberField(w, "workload", "trainable_params", false));
  if (trainable) {
    if (*trainable < 0 || *trainable > r.workload.params) {
      return Status::InvalidArgument("field 'workload.trainable_params': must be between 0 and params");
    }
    r.workload.trainable_params = *trainable;
  }
  SSKAI_ASSIGN_OR_RETURN(std::string precision, StringField(w, "precision", false, "bf16"));
  if (precision == "bf16") {
    r.workload.precision = planner::Precision::kBf16;
  } else if (precision == "fp16") {
    r.workload.precision = planner::Precision::kFp16;
  } else if (precision == "fp32") {
    r.workload.precision = planner::Precision::kFp32;
  } else {
    return Status::InvalidArgument("field 'workload.precision': expected 'bf16', 'fp16' or 'fp32', got '" +
                                   precision + "'");
  }
  SSKAI_ASSIGN_OR_RETURN(double hours, Positive(body, "", "deadline_hours", true, 0));
  r.deadline_seconds = hours * 3600;
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> prob, NumberField(body, "", "deadline_probability", false));
  if (prob) {
    if (*prob <= 0 || *prob >= 1) {
      return Status::InvalidArgument("field 'deadline_probability': must be between 0 and 1 (exclusive)");
    }
    r.deadline_probability = *prob;
  }
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> budget, NumberField(body, "", "budget_usd", false));
  if (budget) {
    if (*budget <= 0) return Status::InvalidArgument("field 'budget_usd': must be > 0");
    r.budget_usd = budget;
  }
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> rate, NumberField(body, "", "max_usd_per_hour", false));
  if (rate) {
    if (*rate <= 0) return Status::InvalidArgument("field 'max_usd_per_hour': must be > 0");
    r.max_usd_per_hour = rate;
  }
  SSKAI_ASSIGN_OR_RETURN(r.regions, StringList(body, "regions"));
  SSKAI_ASSIGN_OR_RETURN(r.instance_types, StringList(body, "instance_types"));
  SSKAI_ASSIGN_OR_RETURN(r.allow_spot, BoolField(body, "allow_spot", true));
  SSKAI_ASSIGN_OR_RETURN(r.max_nodes, WholeNumber(body, "", "max_nodes", 8, 1, 64));
  return r;
}

Result<planner::ServeRequest> ParseServe(const json& body) {
  planner::ServeRequest r;
  SSKAI_ASSIGN_OR_RETURN(json t, SubObject(body, "traffic"));
  SSKAI_ASSIGN_OR_RETURN(r.traffic.mean_rps, Positive(t, "traffic", "mean_rps", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.traffic.peak_rps, Positive(t, "traffic", "peak_rps", false, r.traffic.mean_rps));
  if (r.traffic.peak_rps < r.traffic.mean_rps) {
    return Status::InvalidArgument("field 'traffic.peak_rps': must be >= traffic.mean_rps");
  }
  SSKAI_ASSIGN_OR_RETURN(r.traffic.active_hours_per_day,
                         Positive(t, "traffic", "active_hours_per_day", false, 24));
  if (r.traffic.active_hours_per_day > 24) {
    return Status::InvalidArgument("field 'traffic.active_hours_per_day': must be at most 24");
  }
  SSKAI_ASSIGN_OR_RETURN(double latency_ms, Positive(body, "", "latency_objective_ms", false, 1000));
  r.latency_objective_seconds = latency_ms / 1000;
  SSKAI_ASSIGN_OR_RETURN(r.request_gflops, Positive(body, "", "request_gflops", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.model_memory_gib, Positive(body, "", "model_memory_gib", true, 0));
  SSKAI_ASSIGN_OR_RETURN(r.needs_gpu, BoolField(body, "needs_gpu", false));
  SSKAI_ASSIGN_OR_RETURN(r.regions, StringList(body, "regions"));
  SSKAI_ASSIGN_OR_RETURN(r.instance_types, StringList(body, "instance_types"));
  SSKAI_ASSIGN_OR_RETURN(r.allow_spot, BoolField(body, "allow_spot", true));
  return r;
}

json CandidateJson(const planner::TrainCandidate& c) {
  return json{{"instance_type", c.instance_type},
              {"region", c.region},
              {"zone", c.zone},
              {"accelerator", c.accelerator},
              {"market", std::string(planner::ToString(c.market))},
              {"nodes", c.nodes},
              {"gpus", c.gpus},
              {"cluster_usd_per_hour", c.cluster_usd_per_hour},
              {"hazard_per_hour", c.hazard_per_hour},
              {"checkpoint_interval_seconds", c.checkpoint_interval_seconds},
              {"checkpoint_on_notice", c.checkpoint_on_notice},
              {"work_hours", c.work_seconds / 3600},
              {"expected_hours", c.expected_seconds / 3600},
              {"quantile_hours", c.quantile_seconds / 3600},
              {"expected_cost_usd", c.expected_cost_usd},
              {"quantile_cost_usd", c.quantile_cost_usd},
              {"expected_interruptions", c.expected_interruptions},
              {"meets_deadline", c.meets_deadline},
              {"note", c.note}};
}

json TrainPlanJson(const planner::TrainPlan& p) {
  json ranked = json::array();
  for (const auto& c : p.ranked) ranked.push_back(CandidateJson(c));
  json rejected = json::array();
  for (const auto& r : p.rejected) rejected.push_back(json{{"name", r.name}, {"reason", r.reason}});
  return json{{"kind", "train"},
              {"best", CandidateJson(p.best)},
              {"ranked", ranked},
              {"rejected", rejected},
              {"best_ondemand", p.best_ondemand ? CandidateJson(*p.best_ondemand) : json(nullptr)},
              {"fallback", p.fallback ? CandidateJson(*p.fallback) : json(nullptr)},
              {"savings_vs_ondemand", p.savings_vs_ondemand},
              {"reason", p.reason},
              {"catalog_date", p.catalog_date},
              {"prices_date", p.prices_date},
              {"candidates_evaluated", p.candidates_evaluated},
              {"table", planner::FormatTrainPlan(p)}};
}

json ServeOptionJson(const planner::ServeOption& o) {
  return json{{"kind", std::string(planner::ToString(o.kind))},
              {"feasible", o.feasible},
              {"instance_type", o.instance_type},
              {"region", o.region},
              {"replicas", o.replicas},
              {"usd_per_month", o.usd_per_month},
              {"usd_per_1k_requests", o.usd_per_1k_requests},
              {"service_seconds", o.service_seconds},
              {"p95_latency_seconds", o.p95_latency_seconds},
              {"cold_start_seconds", o.cold_start_seconds},
              {"cold_fraction", o.cold_fraction},
              {"reason", o.reason}};
}

json ServePlanJson(const planner::ServePlan& p, const planner::Catalog& catalog) {
  json options = json::array();
  json rejected = json::array();
  for (const auto& o : p.options) {
    options.push_back(ServeOptionJson(o));
    if (!o.feasible) {
      rejected.push_back(json{{"name", std::string(planner::ToString(o.kind))}, {"reason", o.reason}});
    }
  }
  return json{{"kind", "serve"},
              {"best", ServeOptionJson(p.best)},
              {"ranked", options},
              {"rejected", rejected},
              {"requests_per_month", p.requests_per_month},
              {"break_even_mean_rps", p.break_even_mean_rps ? json(*p.break_even_mean_rps) : json(nullptr)},
              {"reason", p.reason},
              {"catalog_date", catalog.catalog_date},
              {"prices_date", catalog.prices_date},
              {"table", planner::FormatServePlan(p)}};
}

// Optional {"calibration": {"cpu_efficiency": x}}: the achieved fraction of a vCPU's FP32 peak
// for this workload (from a measured profile), replacing the default for CPU offerings.
Result<std::optional<double>> CpuCalibration(const json& body) {
  auto it = body.find("calibration");
  if (it == body.end() || it->is_null()) return std::optional<double>();
  if (!it->is_object()) return Status::InvalidArgument("field 'calibration': expected an object");
  SSKAI_ASSIGN_OR_RETURN(std::optional<double> eff, NumberField(*it, "calibration", "cpu_efficiency", true));
  if (!(*eff > 0 && *eff <= 1)) {
    return Status::InvalidArgument("field 'calibration.cpu_efficiency': must be in (0, 1]");
  }
  return eff;
}

http::Response Plan(const planner::Catalog& catalog, const json& body) {
  auto kind = StringField(body, "kind", true);
  if (!kind.ok()) return Error(kind.status());
  auto calibration = CpuCalibration(body);
  if (!calibration.ok()) return Error(calibration.status());
  if (*kind == "train") {
    auto request = ParseTrain(body);
    if (!request.ok()) return Error(request.status());
    planner::PlanOptions options;
    if (*calibration) options.perf.cpu_efficiency = **calibration;
    auto plan = planner::PlanTraining(*request, catalog, options);
    if (!plan.ok()) return Error(plan.status());
    json out = TrainPlanJson(*plan);
    out["cpu_efficiency"] = options.perf.cpu_efficiency;
    return JsonResponse(200, out);
  }
  if (*kind == "serve") {
    auto request = ParseServe(body);
    if (!request.ok()) return Error(request.status());
    planner::ServeOptions options;
    if (*calibration) options.perf.cpu_efficiency = **calibration;
    auto plan = planner::PlanServing(*request, catalog, options);
    if (!plan.ok()) return Error(plan.status());
    json out = ServePlanJson(*plan, catalog);
    out["cpu_efficiency"] = options.perf.cpu_efficiency;
    return JsonResponse(200, out);
  }
  return Error(Status::InvalidArgument("field 'kind': expected 'train' or 'serve', got '" + *kind + "'"));
}


}  // namespace


void AddPlanRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("POST", "/v1/plans", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto catalog = CurrentCatalog(ctx);
    if (catalog == nullptr) {
      return Error(Status::Unavailable("the planner catalog is not loaded: " + ctx.catalog_error));
    }
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto with_lm = ExpandLm(*body);
    if (!with_lm.ok()) return Error(with_lm.status());
    auto expanded = ExpandModelProfile(ctx, *with_lm, u.id);
    if (!expanded.ok()) return Error(expanded.status());
    http::Response resp = Plan(*catalog, *expanded);
    if (resp.status != 200) return resp;
    // Keep the plan so a job or endpoint can say which plan it was created from (plan_id).
    json result = json::parse(resp.body);
    store::StoredPlan plan;
    plan.owner_id = u.id;
    plan.kind = result.value("kind", "");
    plan.request_json = expanded->dump();
    plan.result_json = resp.body;
    plan.catalog_date = catalog->catalog_date + " (prices " + catalog->prices_date + ")";
    plan.created_at = ctx.clock.NowSeconds();
    auto stored = ctx.store.CreatePlan(plan);
    if (!stored.ok()) return Error(stored.status());
    result["id"] = stored->id;
    return JsonResponse(200, result);
  }), {.summary = "Plan the cheapest way to train {kind:train, workload, deadline_hours, ...} or serve "
                  "{kind:serve, traffic, request_gflops, model_memory_gib, ...}; the plan is kept (id)"});

  router.AddSync("POST", "/v1/profiles/lm", Authed(ctx, [](http::Request& req, const store::User&) {
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto r = ParseLmRequest(*body, "");
    if (!r.ok()) return Error(r.status());
    auto p = planner::ProfileLm(r->shape, r->seq_len, r->micro_batch, r->precision, r->lora_rank);
    if (!p.ok()) return Error(p.status());
    return JsonResponse(200, LmProfileJson(*p, *r));
  }), {.summary = "Analytic profile of a Llama-family LM from its config.json {config, seq_len?, "
                  "micro_batch?, precision?, lora_rank?}: parameters, FLOPs/token, memory"});

  router.AddSync("GET", "/v1/plans", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto page = PageFromQuery(req);
    if (!page.ok()) return Error(page.status());
    page->descending = true;
    auto list = ctx.store.ListPlans(u.id, *page);
    if (!list.ok()) return Error(list.status());
    return JsonResponse(200, ListJson(list->items, list->next_after_id, [](const store::StoredPlan& p) {
      json result = ParseStoredJson(p.result_json);
      return json{{"id", p.id}, {"kind", p.kind}, {"created_at", p.created_at},
                  {"catalog", p.catalog_date}, {"reason", result.value("reason", "")}};
    }));
  }), {.summary = "My plans, newest first"});

  router.AddSync("GET", "/v1/plans/{id}", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    auto id = IdParam(req, "id");
    if (!id.ok()) return Error(id.status());
    auto plan = ctx.store.GetPlan(u.id, *id);
    if (!plan.ok()) return Error(plan.status());
    json result = ParseStoredJson(plan->result_json);
    result["id"] = plan->id;
    result["request"] = ParseStoredJson(plan->request_json);
    result["created_at"] = plan->created_at;
    return JsonResponse(200, result);
  }), {.summary = "One stored plan with its request"});

  router.AddSync("POST", "/v1/catalog/refresh", Authed(ctx, [&ctx](http::Request& req, const store::User& u) {
    if (!u.is_admin) return Error(Status::PermissionDenied("only an admin can refresh the catalog"));
    auto body = ParseObject(req.body);
    if (!body.ok()) return Error(body.status());
    auto refreshed = RefreshCatalog(ctx, *body);
    if (!refreshed.ok()) return Error(refreshed.status());
    return JsonResponse(200, *refreshed);
  }), {.summary = "Apply newer price files {files:[{name, text}]} to the catalog (all or nothing; admin)"});

  router.AddSync("GET", "/v1/catalog", Authed(ctx, [&ctx](http::Request&, const store::User&) {
    auto catalog = CurrentCatalog(ctx);
    if (catalog == nullptr) {
      return Error(Status::Unavailable("the planner catalog is not loaded: " + ctx.catalog_error));
    }
    const planner::Catalog& c = *catalog;
    std::set<std::string> regions;
    for (const auto& o : c.offerings) regions.insert(o.region);
    json gpus = json::array();
    for (const auto& g : c.gpus) gpus.push_back(g.name);
    return JsonResponse(200, json{{"catalog_date", c.catalog_date},
                                  {"prices_date", c.prices_date},
                                  {"offerings", c.offerings.size()},
                                  {"regions", regions},
                                  {"gpus", gpus}});
  }), {.summary = "The planner catalog: dates, offering count, regions and GPUs"});
}

}  // namespace sskai::api
