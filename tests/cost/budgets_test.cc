// Budgets: the pure evaluation, forecast, validation, the refuse-new check and the enforcer with
// fake actions (pause on exceed, resume on raise).
#include "common/clock.h"
#include "cost_fixture.h"

namespace sskai::cost {
namespace {

BudgetSnapshot Snap(double spent, double limit, double now) {
  BudgetSnapshot s;
  s.spent = spent;
  s.limit = limit;
  s.now = now;
  s.period_from = kT0;
  s.period_to = kT0 + 30 * 86400.0;
  s.state.period_from = kT0;
  s.rules.actions = {"alert", "pause_jobs"};
  return s;
}

TEST(BudgetEval, ThresholdsFireOncePerPeriod) {
  BudgetSnapshot s = Snap(85, 100, kT0 + 86400);
  BudgetDecision d = EvaluateBudget(s);
  EXPECT_EQ(d.newly_fired, (std::vector<double>{0.5, 0.8}));
  EXPECT_EQ(d.state, "alerted");
  EXPECT_FALSE(d.enforce);
  s.state.fired = {0.5, 0.8};
  EXPECT_TRUE(EvaluateBudget(s).newly_fired.empty());
  s.spent = 100;
  d = EvaluateBudget(s);
  EXPECT_EQ(d.newly_fired, (std::vector<double>{1.0}));
  EXPECT_EQ(d.state, "exceeded");
  EXPECT_TRUE(d.enforce);
  // A new period resets what fired.
  s.state.period_from = kT0 - 31 * 86400.0;
  d = EvaluateBudget(s);
  EXPECT_TRUE(d.new_period);
  EXPECT_EQ(d.newly_fired.size(), 3u);
}

TEST(BudgetEval, ReleaseWhenRaisedAndForecast) {
  BudgetSnapshot s = Snap(100, 200, kT0 + 86400);
  s.state.enforcing = true;
  s.state.fired = {0.5, 0.8, 1.0};
  BudgetDecision d = EvaluateBudget(s);
  EXPECT_TRUE(d.release);
  EXPECT_FALSE(d.enforce);
  EXPECT_EQ(d.state, "alerted");
  EXPECT_NEAR(d.forecast_usd, 100.0 * 30, 1e-9);  // $100 in 1 day of 30
  EXPECT_NEAR(Forecast(10, kT0, kT0 + 100, kT0), 10, 1e-12);
  s.rules.actions = {"alert"};
  s.state.enforcing = false;
  s.spent = 500;
  EXPECT_FALSE(EvaluateBudget(s).enforce);  // alert-only budgets never pause
}

store::Budget UserBudget(int64_t owner, int64_t user, double limit, const std::string& actions) {
  store::Budget b;
  b.owner_id = owner;
  b.name = "b" + std::to_string(user) + "-" + std::to_string(static_cast<int64_t>(limit));
  b.scope = "user";
  b.user_id = user;
  b.limit_usd = limit;
  b.thresholds_json = "[0.5,0.8,1.0]";
  b.actions_json = actions;
  b.created_at = kT0;
  return b;
}

TEST_F(CostTest, ValidateBudgetRejectsBadInput) {
  store::Budget ok = UserBudget(alice_, alice_, 100, R"(["alert"])");
  EXPECT_TRUE(ValidateBudget(*store_, ok, 0).ok());
  auto expect_bad = [&](store::Budget b, const std::string& field) {
    Status s = ValidateBudget(*store_, b, 0);
    EXPECT_FALSE(s.ok()) << field;
    EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
  };
  store::Budget b = ok;
  b.limit_usd = -5;
  expect_bad(b, "limit_usd");
  b.limit_usd = 2e7;
  expect_bad(b, "limit_usd");
  b = ok;
  b.actions_json = R"(["explode"])";
  expect_bad(b, "actions");
  b = ok;
  b.thresholds_json = "[0, 1]";
  expect_bad(b, "thresholds");
  b = ok;
  b.scope = "tag";
  b.tag_key = "team";
  b.tag_value = "nlp";
  expect_bad(b, "unknown tag 'team'");
  b.tag_key = "bad key!";
  expect_bad(b, "tag_key");
  b = ok;
  b.period_from = kT0 + 10;
  b.period_to = kT0;
  expect_bad(b, "period");
  // Overlap: a monthly budget exists for alice; a custom one for the same scope overlaps it.
  ASSERT_TRUE(store_->CreateBudget(ok).ok());
  b = ok;
  b.name = "other";
  b.period_from = kT0;
  b.period_to = kT0 + 86400;
  Status s = ValidateBudget(*store_, b, 0);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("overlaps"), std::string::npos);
}

TEST_F(CostTest, RefuseNewWhenExceeded) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, 0).ok());
  store::Budget b = UserBudget(alice_, alice_, 1.0, R"(["alert","refuse_new"])");
  b = store_->CreateBudget(b).value();
  double now = kT0 + 5 * 86400;
  EXPECT_TRUE(CheckNewWork(*store_, alice_, {}, now).ok());
  auto u = Open(alice_, "job", 1, "g5.xlarge@use1-az1", 1, false, kT0 + 86400);
  ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 86400 + 7200).ok());
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(now).ok());
  Status s = CheckNewWork(*store_, alice_, {}, now);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("budget '" + b.name + "'"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckNewWork(*store_, bob_, {}, now).ok());  // bob is not in scope
  // The next month is a new period.
  EXPECT_TRUE(CheckNewWork(*store_, alice_, {}, kT0 + 40 * 86400).ok());
}

TEST_F(CostTest, EnforcerPausesThenResumesWhenRaised) {
  ASSERT_TRUE(RecordCatalogPrices(*store_, catalog_, 0).ok());
  FakeClock clock(static_cast<int64_t>((kT0 + 3 * 86400) * 1000));
  int64_t running = NewJob(alice_, "running");
  NewJob(alice_, "succeeded");
  int64_t bobs = NewJob(bob_, "running");
  store::Endpoint ep;
  ep.owner_id = alice_;
  ep.name = "ep";
  ep.state = "ready";
  ep.created_at = kT0;
  int64_t ep_id = store_->CreateEndpoint(ep).value().id;
  std::vector<int64_t> paused, resumed, blocked, unblocked;
  std::vector<std::string> hooks;
  BudgetActions actions;
  actions.pause_job = [&](int64_t id) { paused.push_back(id); return Status::Ok(); };
  actions.resume_job = [&](int64_t id) { resumed.push_back(id); return Status::Ok(); };
  actions.block_endpoint = [&](int64_t id, const std::string&) { blocked.push_back(id); return Status::Ok(); };
  actions.unblock_endpoint = [&](int64_t id) { unblocked.push_back(id); return Status::Ok(); };
  actions.post_webhook = [&](const std::string& url, const std::string& body) { hooks.push_back(url + " " + body); };
  store::Budget b = UserBudget(alice_, alice_, 1.0, R"(["alert","pause_jobs","scale_to_zero"])");
  b.webhook_url = "http://127.0.0.1:9/hook";
  b = store_->CreateBudget(b).value();
  BudgetEnforcer enforcer(*store_, clock, actions);
  ASSERT_TRUE(enforcer.RunOnce().ok());
  EXPECT_TRUE(paused.empty());
  auto u = Open(alice_, "job", running, "g5.xlarge@use1-az1", 1, false, kT0 + 86400);
  ASSERT_TRUE(store_->CloseUsage(u.id, kT0 + 86400 + 3600).ok());  // $1.006 > $1
  Ledger ledger(*store_);
  ASSERT_TRUE(ledger.Sync(clock.NowSeconds()).ok());
  ASSERT_TRUE(enforcer.RunOnce().ok());
  EXPECT_EQ(paused, (std::vector<int64_t>{running}));
  EXPECT_EQ(blocked, (std::vector<int64_t>{ep_id}));
  EXPECT_EQ(hooks.size(), 3u);  // 50, 80, 100 %
  auto events = store_->ListEvents(alice_, {}, {"budget", b.id}).value().items;
  EXPECT_EQ(events.size(), 4u);  // 3 thresholds + enforced
  ASSERT_TRUE(enforcer.RunOnce().ok());  // nothing new
  EXPECT_EQ(paused.size(), 1u);
  EXPECT_EQ(hooks.size(), 3u);
  EXPECT_EQ(ViewBudget(*store_, store_->GetBudget(0, b.id).value(), clock.NowSeconds()).value().state,
            "exceeded");
  // Raising the limit resumes what was paused.
  b = store_->GetBudget(0, b.id).value();
  b.limit_usd = 10;
  ASSERT_TRUE(store_->UpdateBudget(b).ok());
  ASSERT_TRUE(enforcer.RunOnce().ok());
  EXPECT_EQ(resumed, (std::vector<int64_t>{running}));
  EXPECT_EQ(unblocked, (std::vector<int64_t>{ep_id}));
  EXPECT_EQ(std::count(resumed.begin(), resumed.end(), bobs), 0);
  // Prometheus text carries the budget gauges.
  std::string prom = PrometheusText(*store_, clock.NowSeconds());
  EXPECT_NE(prom.find("sskai_budget_used_ratio{budget=\"" + b.name + "\""), std::string::npos) << prom;
  EXPECT_NE(prom.find("sskai_cost_month_usd{user_id="), std::string::npos);
}

}  // namespace
}  // namespace sskai::cost
