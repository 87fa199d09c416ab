// A short list of lane indices held inline: a task's candidate and failover lanes are copied
// into every task, so they must not allocate. The scheduler has at most kMaxLanes lanes (its
// tried-lanes masks are 64 bits); a list keeps its first kMaxLanes distinct entries.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace unihal::sched {

inline constexpr int kMaxLanes = 64;

class LaneList {
 public:
  LaneList() = default;
  LaneList(std::initializer_list<int> lanes) { Assign(lanes.begin(), lanes.end()); }
  LaneList(const std::vector<int>& lanes) { Assign(lanes.begin(), lanes.end()); }  // NOLINT

  const uint8_t* begin() const { return lanes_.data(); }
  const uint8_t* end() const { return lanes_.data() + size_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int operator[](size_t i) const { return lanes_[i]; }

 private:
  template <typename It>
  void Assign(It first, It last) {
    size_ = 0;
    for (; first != last && size_ < lanes_.size(); ++first) {
      // Out-of-range indices are kept (as kInvalid) so Submit rejects them.
      const auto lane = static_cast<uint8_t>(*first >= 0 && *first < kMaxLanes ? *first : kInvalid);
      if (std::find(begin(), end(), lane) == end()) lanes_[size_++] = lane;
    }
  }

  static constexpr uint8_t kInvalid = 255;
  std::array<uint8_t, kMaxLanes> lanes_;  // [0, size_) is set
  uint8_t size_ = 0;
};

}  // namespace unihal::sched
