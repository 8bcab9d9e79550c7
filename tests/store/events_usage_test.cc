#include "store/store_fixture.h"

namespace sskai::store {
namespace {

TEST_F(StoreTest, EventsFeedIsNewestFirstAndFiltered) {
  for (int idx = 0; idx < 5; ++idx) {
    Event e{0, alice_, idx % 2 == 0 ? "job" : "dataset", idx % 2 == 0 ? 7 : 8, "created",
            "event " + std::to_string(idx), 10.0 + idx};
    ASSERT_TRUE(store_->AddEvent(e).ok());
  }
  ASSERT_TRUE(store_->AddEvent(Event{0, bob_, "job", 9, "created", "bob's", 20}).ok());
  ASSERT_TRUE(store_->AddEvent(Event{0, 0, "system", 0, "started", "server up", 21}).ok());

  auto feed = store_->ListEvents(alice_, Page{.limit = 3, .descending = true});
  ASSERT_TRUE(feed.ok());
  ASSERT_EQ(feed->items.size(), 3u);
  EXPECT_EQ(feed->items[0].message, "event 4");
  EXPECT_EQ(feed->items[2].message, "event 2");
  auto more = store_->ListEvents(
      alice_, Page{.limit = 3, .after_id = feed->next_after_id, .descending = true});
  ASSERT_EQ(more->items.size(), 2u);
  EXPECT_EQ(more->items[1].message, "event 0");
  EXPECT_EQ(more->next_after_id, 0);

  auto jobs = store_->ListEvents(alice_, Page{}, EventFilter{"job", 0});
  EXPECT_EQ(jobs->items.size(), 3u);
  auto subject = store_->ListEvents(alice_, Page{}, EventFilter{"dataset", 8});
  EXPECT_EQ(subject->items.size(), 2u);
  EXPECT_EQ(store_->ListEvents(bob_, Page{})->items.size(), 1u);
  EXPECT_EQ(store_->ListEvents(0, Page{})->items.size(), 7u);
}

TEST_F(StoreTest, UsageRecordsOpenCloseAndOverlap) {
  auto job_usage = store_->OpenUsage(UsageRecord{0, alice_, "job", 1, "local-cpu", 2, false, 100, 0});
  ASSERT_TRUE(job_usage.ok());
  auto spot = store_->OpenUsage(UsageRecord{0, alice_, "endpoint", 3, "local-cpu", 1, true, 150, 0});
  ASSERT_TRUE(spot.ok());
  auto bob_usage = store_->OpenUsage(UsageRecord{0, bob_, "job", 2, "local-cpu", 1, false, 120, 0});
  ASSERT_TRUE(bob_usage.ok());

  ASSERT_TRUE(store_->CloseUsage(job_usage->id, 200).ok());
  ASSERT_TRUE(store_->CloseUsage(job_usage->id, 999).ok());  // already closed: unchanged
  EXPECT_EQ(store_->CloseUsage(9999, 1).code(), StatusCode::kNotFound);
  auto closed = store_->CloseOpenUsage("endpoint", 3, 300);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(*closed, 1);
  EXPECT_EQ(*store_->CloseOpenUsage("endpoint", 3, 400), 0);

  auto all = store_->ListUsage(alice_, Page{}, 0, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_DOUBLE_EQ(all->items[0].ended_at, 200);
  EXPECT_EQ(all->items[0].count, 2);
  EXPECT_TRUE(all->items[1].spot);
  EXPECT_DOUBLE_EQ(all->items[1].ended_at, 300);

  // [250, 260): only the endpoint record (150..300) overlaps.
  auto window = store_->ListUsage(alice_, Page{}, 250, 260);
  ASSERT_EQ(window->items.size(), 1u);
  EXPECT_EQ(window->items[0].subject_kind, "endpoint");
  // Before anything started.
  EXPECT_TRUE(store_->ListUsage(alice_, Page{}, 0, 100)->items.empty());
  // Bob's open record overlaps any later window; owner 0 sees everyone.
  EXPECT_EQ(store_->ListUsage(bob_, Page{}, 5000, 6000)->items.size(), 1u);
  EXPECT_EQ(store_->ListUsage(0, Page{}, 0, 0)->items.size(), 3u);
}

}  // namespace
}  // namespace sskai::store
