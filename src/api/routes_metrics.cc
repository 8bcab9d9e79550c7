// GET /metrics: Prometheus text exposition of the serving gateway, then every source in
// ApiContext::metrics_sources (other modules plug in there). Admins only: the series name
// every user's endpoints.
#include "api/internal.h"
#include "serving/serving.h"

namespace sskai::api {

void AddMetricsRoutes(ApiContext& ctx, http::Router& router) {
  router.AddSync("GET", "/metrics", Authed(ctx, [&ctx](http::Request&, const store::User& u) {
    if (!u.is_admin) return Error(Status::PermissionDenied("only admins can read /metrics"));
    std::string text = ctx.endpoints.PrometheusText();
    for (const auto& source : ctx.metrics_sources) {
      if (source) text += source();
    }
    return http::Response::Text(200, std::move(text), "text/plain; version=0.0.4; charset=utf-8");
  }), {.summary = "Prometheus metrics (text exposition format; admins)"});
}

}  // namespace sskai::api
