#include "scheduler/holds.h"

#include <catch2/catch.hpp>

namespace gangsched::scheduler {
namespace {

const GangKey kGang{"ml", "bert"};

TEST_CASE("a hold's deadline counts from the gang's last progress", "[holds]") {
  HoldTable table(HoldPolicy{.ttl = 60'000});
  CHECK(table.Start(kGang, 1'000) == 61'000);
  CHECK(table.Progress(kGang, 30'000) == 90'000);
  CHECK(table.Expire(89'999).empty());
  CHECK(table.Expire(90'000) == std::vector<GangKey>{kGang});
  CHECK_FALSE(table.Holding(kGang));
}

TEST_CASE("deadlines stay below the bind extender's timeout", "[holds]") {
  HoldTable table(HoldPolicy{.ttl = 600'000, .bind_timeout = 120'000, .bind_margin = 5'000});
  CHECK(table.Start(kGang, 0) == 115'000);
  CHECK(table.Start(kGang, 0, 10'000) == 10'000);  // per-gang override (scheduleTimeoutSeconds)
}

TEST_CASE("an expired gang backs off exponentially", "[holds]") {
  HoldTable table(HoldPolicy{.ttl = 10, .backoff_initial = 100, .backoff_max = 350});
  table.Start(kGang, 0);
  table.Expire(10);
  CHECK(table.BackoffUntil(kGang, 10) == 110);
  CHECK_FALSE(table.BackoffUntil(kGang, 110).has_value());
  table.Start(kGang, 110);
  table.Expire(120);
  CHECK(table.BackoffUntil(kGang, 120) == 320);
  table.Start(kGang, 320);
  table.Expire(330);
  CHECK(table.BackoffUntil(kGang, 330) == 680);  // capped at 350
  table.Finish(kGang);
  CHECK_FALSE(table.BackoffUntil(kGang, 331).has_value());
}

TEST_CASE("the next deadline is the earliest hold", "[holds]") {
  HoldTable table;
  CHECK_FALSE(table.NextDeadline());
  table.Start({"a", "1"}, 50);
  table.Start({"a", "2"}, 10);
  CHECK(table.NextDeadline() == 60'010);
}

}  // namespace
}  // namespace gangsched::scheduler
