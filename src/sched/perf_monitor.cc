#include "sched/perf_monitor.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <map>
#include <thread>
#include <tuple>

#include "sched/latency_histogram.h"

namespace unihal {
namespace sched {
namespace {

constexpr std::string_view kDefaultTenant = "default";
constexpr std::string_view kOther = "(other)";

// The calling thread's stripe: its id mixed (ids are aligned addresses) and cut to a stripe.
int ThreadStripe() {
  thread_local const int stripe = [] {
    const uint64_t id = std::hash<std::thread::id>{}(std::this_thread::get_id());
    return static_cast<int>(((id * 0x9E3779B97F4A7C15ull) >> 32) % kMonitorStripes);
  }();
  return stripe;
}

// Eight bytes at a time, multiply-xor mixed: a few cycles for the short ids used as keys.
uint64_t MixBytes(uint64_t h, std::string_view bytes) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = std::rotl((h ^ word) * kMul, 29);
  }
  uint64_t tail = bytes.size();  // the length too, so "ab"+"c" and "a"+"bc" differ
  for (size_t shift = 8; i < bytes.size(); ++i, shift += 8) {
    tail ^= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (shift % 64);
  }
  return std::rotl((h ^ tail) * kMul, 31);
}

uint64_t KeyHash(std::string_view device, std::string_view model, std::string_view tenant,
                 Priority priority) {
  uint64_t h = MixBytes(static_cast<uint64_t>(priority) + 1, device);
  h = MixBytes(h, model);
  h = MixBytes(h, tenant);
  return h ^ (h >> 32);
}

bool KeyIs(const SeriesEntry& entry, uint64_t hash, std::string_view device, std::string_view model,
           std::string_view tenant, Priority priority) {
  return entry.hash == hash && entry.key.priority == priority && entry.key.device == device &&
         entry.key.model == model && entry.key.tenant == tenant;
}

int OutcomeSlot(TaskState outcome) {
  switch (outcome) {
    case TaskState::kSucceeded:
      return 0;
    case TaskState::kCancelled:
      return 2;
    case TaskState::kTimedOut:
      return 3;
    default:
      return 1;  // failed, and any non-final state recorded by mistake
  }
}

}  // namespace

void SeriesEntry::Add(const RunRecord& record, int stripe) {
  SeriesStripe& s = stripes[stripe];
  const int64_t ns = std::max<int64_t>(0, record.latency.count());
  s.outcomes[OutcomeSlot(record.outcome)].fetch_add(1, std::memory_order_relaxed);
  s.buckets[FastLatencyBucketIndex(ns)].fetch_add(1, std::memory_order_relaxed);
  s.sum_ns.fetch_add(ns, std::memory_order_relaxed);
  if (record.fell_back) s.fell_back.fetch_add(1, std::memory_order_relaxed);
  if (record.retried) s.retried.fetch_add(1, std::memory_order_relaxed);
}

SeriesStats SeriesEntry::Read() const {
  SeriesStats stats;
  RunCounts& c = stats.counts;
  int64_t sum_ns = 0;
  for (const SeriesStripe& s : stripes) {
    c.succeeded += s.outcomes[0].load(std::memory_order_relaxed);
    c.failed += s.outcomes[1].load(std::memory_order_relaxed);
    c.cancelled += s.outcomes[2].load(std::memory_order_relaxed);
    c.timed_out += s.outcomes[3].load(std::memory_order_relaxed);
    c.fell_back += s.fell_back.load(std::memory_order_relaxed);
    c.retried += s.retried.load(std::memory_order_relaxed);
    sum_ns += s.sum_ns.load(std::memory_order_relaxed);
    for (int i = 0; i < kLatencyBucketCount; ++i) {
      stats.latency.buckets[i] += s.buckets[i].load(std::memory_order_relaxed);
    }
  }
  c.runs = c.succeeded + c.failed + c.cancelled + c.timed_out;
  // Counted from the buckets so count and buckets agree even while runs are being recorded.
  for (int64_t n : stats.latency.buckets) stats.latency.count += n;
  stats.latency.sum_s = static_cast<double>(sum_ns) * 1e-9;
  return stats;
}

void RecentRate::Add(int64_t second, int stripe) {
  std::atomic<uint64_t>& slot = stripes_[stripe].slots[second % kSlots];
  const uint64_t tag = static_cast<uint64_t>(second) << kCountBits;
  uint64_t seen = slot.load(std::memory_order_relaxed);
  while (true) {
    if ((seen >> kCountBits) == (tag >> kCountBits)) {
      slot.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // The slot still holds an older second: restart it at this second with a count of one.
    if (slot.compare_exchange_weak(seen, tag | 1, std::memory_order_relaxed)) return;
  }
}

int64_t RecentRate::CountBetween(int64_t first_second, int64_t last_second) const {
  int64_t total = 0;
  for (const Stripe& stripe : stripes_) {
    for (int64_t s = std::max<int64_t>(0, first_second); s <= last_second; ++s) {
      const uint64_t v = stripe.slots[s % kSlots].load(std::memory_order_relaxed);
      const uint64_t slot_second = v >> kCountBits;
      // Second 0 and an untouched slot both read 0; an untouched slot also counts 0.
      if (slot_second == static_cast<uint64_t>(s)) {
        total += static_cast<int64_t>(v & ((uint64_t{1} << kCountBits) - 1));
      }
    }
  }
  return total;
}

void RecentRate::Clear() {
  for (Stripe& stripe : stripes_) {
    for (auto& slot : stripe.slots) slot.store(0, std::memory_order_relaxed);
  }
}

SeriesTable::SeriesTable() : start_(std::chrono::steady_clock::now()) {}

void SeriesTable::Record(const RunRecord& record) {
  Record(FindOrInsert(record.device, record.model, record.tenant, record.priority), record);
}

SeriesEntry& SeriesTable::FindOrInsert(std::string_view device, std::string_view model,
                                       std::string_view tenant, Priority priority) {
  if (tenant.empty()) tenant = kDefaultTenant;
  return Find(device, model, tenant, priority, KeyHash(device, model, tenant, priority));
}

void SeriesTable::Record(SeriesEntry& entry, const RunRecord& record) {
  const int stripe = ThreadStripe();
  entry.Add(record, stripe);
  const auto finished = record.finished == std::chrono::steady_clock::time_point{}
                            ? std::chrono::steady_clock::now()
                            : record.finished;
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(finished - start_).count();
  if (second >= 0) recent_.Add(second, stripe);  // a run that ended before a Reset: not recent
}

SeriesEntry& SeriesTable::Find(std::string_view device, std::string_view model,
                               std::string_view tenant, Priority priority, uint64_t hash) {
  for (uint64_t i = hash;; ++i) {
    SeriesEntry* entry = slots_[i % kSlots].load(std::memory_order_acquire);
    if (entry == nullptr) return Insert(device, model, tenant, priority, hash);
    if (KeyIs(*entry, hash, device, model, tenant, priority)) return *entry;
  }
}

SeriesEntry& SeriesTable::Insert(std::string_view device, std::string_view model,
                                 std::string_view tenant, Priority priority, uint64_t hash) {
  std::lock_guard<std::mutex> lock(insert_mu_);
  // Probe again under the lock: another thread may have inserted this key meanwhile.
  uint64_t i = hash;
  for (;; ++i) {
    SeriesEntry* entry = slots_[i % kSlots].load(std::memory_order_acquire);
    if (entry == nullptr) break;
    if (KeyIs(*entry, hash, device, model, tenant, priority)) return *entry;
  }
  if (owned_.size() >= static_cast<size_t>(PerfMonitor::kMaxSeries)) {
    if (!other_) {
      other_ = std::make_unique<SeriesEntry>();
      other_->key = {std::string(kOther), std::string(kOther), std::string(kOther), priority};
    }
    return *other_;
  }
  auto entry = std::make_unique<SeriesEntry>();
  entry->key = {std::string(device), std::string(model), std::string(tenant), priority};
  entry->hash = hash;
  slots_[i % kSlots].store(entry.get(), std::memory_order_release);
  owned_.push_back(std::move(entry));
  return *owned_.back();
}

std::vector<const SeriesEntry*> SeriesTable::Entries() const {
  std::lock_guard<std::mutex> lock(insert_mu_);
  std::vector<const SeriesEntry*> entries;
  for (const auto& entry : owned_) entries.push_back(entry.get());
  if (other_) entries.push_back(other_.get());
  return entries;
}

void SeriesTable::Reset() {
  std::lock_guard<std::mutex> lock(insert_mu_);
  for (auto& slot : slots_) slot.store(nullptr, std::memory_order_relaxed);
  owned_.clear();
  other_.reset();
  recent_.Clear();
  start_ = std::chrono::steady_clock::now();
}

}  // namespace sched

namespace sched {
namespace {

std::vector<Group> Groups(const std::vector<Series>& series,
                          const std::function<std::string(const SeriesKey&)>& label) {
  std::map<std::string, SeriesStats> merged;
  for (const Series& s : series) merged[label(s.key)].Merge(s.stats);
  std::vector<Group> groups;
  for (auto& [name, stats] : merged) {
    stats.Finish();
    groups.push_back({name, std::move(stats)});
  }
  return groups;
}

}  // namespace

PerfSnapshot SeriesTable::Snapshot() const {
  PerfSnapshot snapshot;
  const std::vector<const SeriesEntry*> entries = Entries();
  for (const SeriesEntry* entry : entries) {
    Series series{entry->key, entry->Read()};
    series.stats.Finish();
    snapshot.total.Merge(series.stats);
    snapshot.series.push_back(std::move(series));
  }
  snapshot.total.Finish();
  snapshot.series_limit_reached = entries.size() > static_cast<size_t>(PerfMonitor::kMaxSeries);
  std::sort(snapshot.series.begin(), snapshot.series.end(), [](const Series& a, const Series& b) {
    return std::tie(a.key.device, a.key.model, a.key.tenant, a.key.priority) <
           std::tie(b.key.device, b.key.model, b.key.tenant, b.key.priority);
  });
  snapshot.by_device = Groups(snapshot.series, [](const SeriesKey& k) { return k.device; });
  snapshot.by_model = Groups(snapshot.series, [](const SeriesKey& k) { return k.model; });
  snapshot.by_tenant = Groups(snapshot.series, [](const SeriesKey& k) { return k.tenant; });
  // Named "0-critical" ... while grouping so the groups come out in priority order.
  snapshot.by_priority = Groups(snapshot.series, [](const SeriesKey& k) {
    return std::to_string(static_cast<int>(k.priority)) + std::string(PriorityName(k.priority));
  });
  for (Group& group : snapshot.by_priority) group.name = group.name.substr(1);

  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  snapshot.uptime_s = uptime;
  const int64_t total_runs = snapshot.total.counts.runs;
  snapshot.lifetime_runs_per_s = uptime > 0 ? static_cast<double>(total_runs) / uptime : 0.0;
  // The window: the last kRecentWindowSeconds whole seconds and the current partial one.
  const auto now_second = static_cast<int64_t>(uptime);
  const int64_t first_second = std::max<int64_t>(0, now_second - PerfMonitor::kRecentWindowSeconds);
  snapshot.recent_window_s = uptime - static_cast<double>(first_second);
  const int64_t recent_runs = recent_.CountBetween(first_second, now_second);
  snapshot.recent_runs_per_s = snapshot.recent_window_s > 0
                                   ? static_cast<double>(recent_runs) / snapshot.recent_window_s
                                   : 0.0;
  return snapshot;
}

}  // namespace sched

PerfMonitor::PerfMonitor() : table_(std::make_unique<sched::SeriesTable>()) {}
PerfMonitor::~PerfMonitor() = default;
void PerfMonitor::Record(const RunRecord& record) { table_->Record(record); }
PerfMonitor::SeriesHandle PerfMonitor::FindSeries(std::string_view device, std::string_view model,
                                                  std::string_view tenant, Priority priority) {
  return SeriesHandle(&table_->FindOrInsert(device, model, tenant, priority));
}
void PerfMonitor::Record(SeriesHandle series, const RunRecord& record) {
  if (series.entry_ == nullptr) return;  // a default handle: nothing to record into
  table_->Record(*series.entry_, record);
}
PerfSnapshot PerfMonitor::Snapshot() const { return table_->Snapshot(); }
void PerfMonitor::Reset() { table_->Reset(); }

}  // namespace unihal
