// tests/cost/cost_fixture.h — a fresh store, a two-offering catalog and helpers for cost tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <numeric>

#include "cost/cost.h"
#include "planner/planner.h"
#include "store/store.h"
#include "testing/scratch_dir.h"

namespace sskai::cost {

constexpr double kT0 = 1'717'200'000;  // 2024-06-01 00:00:00 UTC

class CostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    alice_ = store_->CreateUser("alice", false, 1).value().id;
    bob_ = store_->CreateUser("bob", false, 1).value().id;
    admin_ = store_->CreateUser("root", true, 1).value().id;
    catalog_.catalog_date = "2024-05-01";
    catalog_.prices_date = "2024-05-01";
    planner::Offering g5;
    g5.instance_type = "g5.xlarge";
    g5.region = "us-east-1";
    g5.zone = "use1-az1";
    g5.ondemand_usd_per_hour = 1.006;
    g5.spot_usd_per_hour = 0.4;
    planner::Offering nospot = g5;
    nospot.instance_type = "p9.huge";
    nospot.spot_usd_per_hour.reset();
    planner::Offering local;
    local.instance_type = "this-machine";
    local.region = "local";
    local.zone = "this-machine";
    local.local = true;
    local.ondemand_usd_per_hour = 0.0;
    catalog_.offerings = {g5, nospot, local};
    catalog_.serverless.usd_per_gb_second = 0.0000166667;
    catalog_.serverless.usd_per_million_requests = 0.20;
  }
  void Reopen() {
    store_.reset();
    auto opened = store::Store::Open(dir_.path() + "/meta.db");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }
  store::UsageRecord Open(int64_t owner, const std::string& kind, int64_t subject,
                          const std::string& resource, int64_t count, bool spot, double start) {
    store::UsageRecord u;
    u.owner_id = owner;
    u.subject_kind = kind;
    u.subject_id = subject;
    u.resource = resource;
    u.count = count;
    u.spot = spot;
    u.started_at = start;
    auto r = store_->OpenUsage(u);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : u;
  }
  Report Query(double from, double to, const std::string& group_by = "none", int64_t owner = 0) {
    store::CostQuery q;
    q.from = from;
    q.to = to;
    q.group_by = group_by;
    q.owner_id = owner;
    auto r = BuildReport(*store_, q, -1);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Report{};
  }
  double SumEntries(double from, double to) {
    auto entries = store_->ListCostEntries(0, from, to);
    EXPECT_TRUE(entries.ok());
    double sum = 0;
    for (const auto& e : *entries) sum += e.priced ? e.cost_usd : 0;
    return sum;
  }
  int64_t NewJob(int64_t owner, const std::string& state) {
    store::Job j;
    j.owner_id = owner;
    j.state = state;
    j.created_at = kT0;
    return store_->CreateJob(j).value().id;
  }

  testing::ScratchDir dir_;
  std::unique_ptr<store::Store> store_;
  int64_t alice_ = 0, bob_ = 0, admin_ = 0;
  planner::Catalog catalog_;
};

}  // namespace sskai::cost
