// Recycled memory for task records (the throughput target of SPEC "Performance targets": a
// submit should not go to the heap). TaskRecords are made with std::allocate_shared and this
// allocator, so the record and its shared_ptr control block are one block of kTaskBlockBytes.
// Blocks come from a per-thread cache, refilled from and drained to a shared depot in chunks,
// so the submitting and the finishing thread each take the depot's lock once per chunk, not
// once per task. The depot keeps at most a bounded number of blocks; the rest go back to the
// heap. Blocks outlive any scheduler (a TaskHandle may outlive its runtime).
#pragma once

#include <cstddef>
#include <new>

namespace unihal::sched {

inline constexpr size_t kTaskBlockBytes = 1024;
inline constexpr size_t kTaskBlockAlign = 64;

void* AllocateTaskBlock();
void FreeTaskBlock(void* block);

template <typename T>
struct TaskBlockAllocator {
  using value_type = T;
  TaskBlockAllocator() = default;
  template <typename U>
  TaskBlockAllocator(const TaskBlockAllocator<U>&) {}  // NOLINT: rebinding

  T* allocate(size_t n) {
    if (n == 1 && sizeof(T) <= kTaskBlockBytes && alignof(T) <= kTaskBlockAlign) {
      return static_cast<T*>(AllocateTaskBlock());
    }
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{alignof(T)}));
  }
  void deallocate(T* p, size_t n) {
    if (n == 1 && sizeof(T) <= kTaskBlockBytes && alignof(T) <= kTaskBlockAlign) {
      FreeTaskBlock(p);
    } else {
      ::operator delete (p, std::align_val_t{alignof(T)});
    }
  }
  template <typename U>
  bool operator==(const TaskBlockAllocator<U>&) const {
    return true;
  }
};

}  // namespace unihal::sched
