// Reference box and region-of-interest ops: NonMaxSuppression (opset 10..), RoiAlign (10..; the
// half_pixel coordinate mode from opset 16) and MaxRoiPool (1..), after ONNX's reference and
// ONNX Runtime.
#include <algorithm>
#include <cmath>
#include <limits>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_more.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// ---- NonMaxSuppression ----

struct Box {
  double x_min, y_min, x_max, y_max;
};

Box ReadBox(const double* b, bool center_point) {
  if (center_point) {
    return Box{b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2};
  }
  return Box{std::min(b[1], b[3]), std::min(b[0], b[2]), std::max(b[1], b[3]),
             std::max(b[0], b[2])};
}

bool SuppressedByIou(const Box& a, const Box& b, double iou_threshold) {
  const double x_min = std::max(a.x_min, b.x_min);
  const double x_max = std::min(a.x_max, b.x_max);
  const double y_min = std::max(a.y_min, b.y_min);
  const double y_max = std::min(a.y_max, b.y_max);
  if (x_max <= x_min || y_max <= y_min) return false;
  const double intersection = (x_max - x_min) * (y_max - y_min);
  const double area_a = (a.x_max - a.x_min) * (a.y_max - a.y_min);
  const double area_b = (b.x_max - b.x_min) * (b.y_max - b.y_min);
  const double union_area = area_a + area_b - intersection;
  if (intersection <= 0 || area_a <= 0 || area_b <= 0 || union_area <= 0) return false;
  return intersection / union_area > iou_threshold;
}

Result<double> ScalarInput(const KernelContext& context, size_t i, double fallback,
                           bool* given = nullptr) {
  UH_ASSIGN_OR_RETURN(const OptionalDoubles v, OptionalDoubleInput(context, i));
  if (given) *given = v.given;
  return v.given ? v.values[0] : fallback;
}

// Greedy selection within one (batch, class): highest score first (ties: lower index first).
void SelectBoxes(const std::vector<Box>& boxes, const double* scores, int64_t max_output,
                 double iou_threshold, bool use_score_threshold, double score_threshold,
                 std::vector<int64_t>& selected) {
  std::vector<int64_t> order;
  for (int64_t i = 0; i < static_cast<int64_t>(boxes.size()); ++i) {
    if (!use_score_threshold || scores[i] > score_threshold) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [scores](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  selected.clear();
  for (int64_t candidate : order) {
    if (static_cast<int64_t>(selected.size()) >= max_output) break;
    bool keep = true;
    for (int64_t s : selected) {
      if (SuppressedByIou(boxes[static_cast<size_t>(candidate)], boxes[static_cast<size_t>(s)],
                          iou_threshold)) {
        keep = false;
        break;
      }
    }
    if (keep) selected.push_back(candidate);
  }
}

Status ComputeNonMaxSuppression(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* boxes, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* scores, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *boxes, "input boxes", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *scores, "input scores", FloatDTypes()));
  if (boxes->rank() != 3 || boxes->dim(2) != 4 || scores->rank() != 3 ||
      scores->dim(0) != boxes->dim(0) || scores->dim(2) != boxes->dim(1)) {
    return Invalid(node, "boxes " + boxes->Describe() + " and scores " + scores->Describe() +
                             " must be (batch, boxes, 4) and (batch, classes, boxes)");
  }
  UH_ASSIGN_OR_RETURN(const OptionalInts max_output_given, OptionalInt64Input(context, 2));
  const int64_t max_output = max_output_given.given && !max_output_given.values.empty()
                                 ? std::max<int64_t>(max_output_given.values[0], 0)
                                 : 0;
  UH_ASSIGN_OR_RETURN(const double iou_threshold, ScalarInput(context, 3, 0.0));
  bool use_score_threshold = false;
  UH_ASSIGN_OR_RETURN(const double score_threshold,
                      ScalarInput(context, 4, 0.0, &use_score_threshold));
  UH_ASSIGN_OR_RETURN(const int64_t center_point_box, node.GetInt("center_point_box", 0));
  if (center_point_box != 0 && center_point_box != 1) {
    return Invalid(node, "center_point_box must be 0 or 1");
  }
  const std::vector<double> box_values = TensorToDoubles(*boxes);
  const std::vector<double> score_values = TensorToDoubles(*scores);
  const int64_t batches = boxes->dim(0), num_boxes = boxes->dim(1), classes = scores->dim(1);
  std::vector<int64_t> triples;
  std::vector<Box> batch_boxes(static_cast<size_t>(num_boxes));
  std::vector<int64_t> selected;
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t i = 0; i < num_boxes; ++i) {
      batch_boxes[static_cast<size_t>(i)] =
          ReadBox(&box_values[static_cast<size_t>((b * num_boxes + i) * 4)], center_point_box);
    }
    for (int64_t c = 0; c < classes; ++c) {
      SelectBoxes(batch_boxes, &score_values[static_cast<size_t>((b * classes + c) * num_boxes)],
                  max_output, iou_threshold, use_score_threshold, score_threshold, selected);
      for (int64_t s : selected) triples.insert(triples.end(), {b, c, s});
    }
  }
  const int64_t count = static_cast<int64_t>(triples.size() / 3);
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, DType::kI64, Shape{count, 3}));
  std::copy(triples.begin(), triples.end(), out->data_as<int64_t>());
  return Status::Ok();
}

// ---- RoiAlign ----

struct RoiAlignAttributes {
  bool max_mode = false;
  bool half_pixel = true;
  int64_t out_h = 1;
  int64_t out_w = 1;
  int64_t sampling_ratio = 0;
  double spatial_scale = 1.0;
};

Result<RoiAlignAttributes> ParseRoiAlign(const ir::Node& node) {
  RoiAlignAttributes a;
  UH_ASSIGN_OR_RETURN(const std::string mode, node.GetString("mode", "avg"));
  if (mode != "avg" && mode != "max") return Invalid(node, "mode must be avg or max");
  a.max_mode = mode == "max";
  // Before opset 16 RoiAlign had no half-pixel offset.
  UH_ASSIGN_OR_RETURN(const std::string coordinates,
                      node.GetString("coordinate_transformation_mode",
                                     node.opset >= 16 ? "half_pixel" : "output_half_pixel"));
  if (coordinates != "half_pixel" && coordinates != "output_half_pixel") {
    return Invalid(node, "coordinate_transformation_mode must be half_pixel or output_half_pixel");
  }
  a.half_pixel = coordinates == "half_pixel";
  UH_ASSIGN_OR_RETURN(a.out_h, node.GetInt("output_height", 1));
  UH_ASSIGN_OR_RETURN(a.out_w, node.GetInt("output_width", 1));
  UH_ASSIGN_OR_RETURN(a.sampling_ratio, node.GetInt("sampling_ratio", 0));
  UH_ASSIGN_OR_RETURN(const float scale, node.GetFloat("spatial_scale", 1.0f));
  a.spatial_scale = scale;
  if (a.out_h < 1 || a.out_w < 1 || a.sampling_ratio < 0 || !std::isfinite(a.spatial_scale)) {
    return Invalid(node,
                   "output_height/output_width must be positive, sampling_ratio >= 0 and "
                   "spatial_scale finite");
  }
  return a;
}

// The four bilinear taps of point (y, x) in an h x w plane; all weights 0 outside.
struct Taps {
  int64_t pos[4] = {0, 0, 0, 0};
  double weight[4] = {0, 0, 0, 0};
};

Taps BilinearTaps(double y, double x, int64_t h, int64_t w) {
  Taps t;
  // Negated so that NaN coordinates count as outside too.
  if (!(y >= -1.0 && y <= static_cast<double>(h) && x >= -1.0 && x <= static_cast<double>(w))) {
    return t;
  }
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  int64_t y_low = SafeIndex(y), x_low = SafeIndex(x), y_high, x_high;
  if (y_low >= h - 1) {
    y_high = y_low = h - 1;
    y = static_cast<double>(y_low);
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= w - 1) {
    x_high = x_low = w - 1;
    x = static_cast<double>(x_low);
  } else {
    x_high = x_low + 1;
  }
  const double ly = y - static_cast<double>(y_low), lx = x - static_cast<double>(x_low);
  const double hy = 1 - ly, hx = 1 - lx;
  t.pos[0] = y_low * w + x_low;
  t.pos[1] = y_low * w + x_high;
  t.pos[2] = y_high * w + x_low;
  t.pos[3] = y_high * w + x_high;
  t.weight[0] = hy * hx;
  t.weight[1] = hy * lx;
  t.weight[2] = ly * hx;
  t.weight[3] = ly * lx;
  return t;
}

// Pools one roi over every channel of one image into `out` (C, out_h, out_w).
void RoiAlignOne(const RoiAlignAttributes& a, const double* roi, const double* image,
                 int64_t channels, int64_t h, int64_t w, double* out) {
  const double offset = a.half_pixel ? 0.5 : 0.0;
  const double start_w = roi[0] * a.spatial_scale - offset;
  const double start_h = roi[1] * a.spatial_scale - offset;
  double roi_w = roi[2] * a.spatial_scale - offset - start_w;
  double roi_h = roi[3] * a.spatial_scale - offset - start_h;
  if (!a.half_pixel) {
    roi_w = std::max(roi_w, 1.0);
    roi_h = std::max(roi_h, 1.0);
  }
  const double bin_h = roi_h / static_cast<double>(a.out_h);
  const double bin_w = roi_w / static_cast<double>(a.out_w);
  const int64_t grid_h = a.sampling_ratio > 0 ? a.sampling_ratio : SafeIndex(std::ceil(bin_h));
  const int64_t grid_w = a.sampling_ratio > 0 ? a.sampling_ratio : SafeIndex(std::ceil(bin_w));
  const double count = static_cast<double>(std::max<int64_t>(grid_h * grid_w, 1));
  for (int64_t ph = 0; ph < a.out_h; ++ph) {
    for (int64_t pw = 0; pw < a.out_w; ++pw) {
      std::vector<Taps> taps;
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        const double y = start_h + static_cast<double>(ph) * bin_h +
                         (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          const double x = start_w + static_cast<double>(pw) * bin_w +
                           (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(grid_w);
          taps.push_back(BilinearTaps(y, x, h, w));
        }
      }
      for (int64_t c = 0; c < channels; ++c) {
        const double* plane = image + c * h * w;
        double result = 0.0;
        bool first = true;
        for (const Taps& t : taps) {
          if (a.max_mode) {
            // As ONNX Runtime: the largest weighted tap, not the interpolated value.
            double v = t.weight[0] * plane[t.pos[0]];
            for (int k = 1; k < 4; ++k) v = std::max(v, t.weight[k] * plane[t.pos[k]]);
            result = first ? v : std::max(result, v);
            first = false;
          } else {
            for (int k = 0; k < 4; ++k) result += t.weight[k] * plane[t.pos[k]];
          }
        }
        out[(c * a.out_h + ph) * a.out_w + pw] = a.max_mode ? result : result / count;
      }
    }
  }
}

Status ComputeRoiAlign(KernelContext& context, const RoiAlignAttributes& a) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* rois, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* batch_indices, NeedInput(context, 2));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input X", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *rois, "input rois", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *batch_indices, "input batch_indices", {DType::kI64}));
  if (x->rank() != 4 || rois->rank() != 2 || rois->dim(1) != 4 || batch_indices->rank() != 1 ||
      batch_indices->dim(0) != rois->dim(0)) {
    return Invalid(node, "X " + x->Describe() + ", rois " + rois->Describe() +
                             " and batch_indices " + batch_indices->Describe() +
                             " must be (N, C, H, W), (R, 4) and (R)");
  }
  const int64_t channels = x->dim(1), h = x->dim(2), w = x->dim(3), count = rois->dim(0);
  if ((h == 0 || w == 0) && count > 0) {
    return Invalid(node, "cannot pool the empty image " + x->Describe());
  }
  UH_RETURN_IF_ERROR(CheckOutputSize(node, {count, channels, a.out_h, a.out_w}));
  const std::vector<double> xs = TensorToDoubles(*x);
  const std::vector<double> rs = TensorToDoubles(*rois);
  for (double v : rs) {
    if (!std::isfinite(v)) return Invalid(node, "rois must be finite");
  }
  const int64_t* batch = batch_indices->data_as<int64_t>();
  std::vector<double> ys(static_cast<size_t>(count * channels * a.out_h * a.out_w));
  for (int64_t r = 0; r < count; ++r) {
    if (batch[r] < 0 || batch[r] >= x->dim(0)) {
      return Invalid(node, "batch_indices[" + std::to_string(r) + "] is out of range");
    }
    RoiAlignOne(a, &rs[static_cast<size_t>(r * 4)], xs.data() + batch[r] * channels * h * w,
                channels, h, w, ys.data() + r * channels * a.out_h * a.out_w);
  }
  return WriteOutput(context, 0, x->dtype(), Shape{count, channels, a.out_h, a.out_w}, ys);
}

Result<std::unique_ptr<hal::Kernel>> CreateRoiAlign(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(const RoiAlignAttributes attributes, ParseRoiAlign(info.node));
  return MakeFunctionKernel(
      [attributes](KernelContext& context) { return ComputeRoiAlign(context, attributes); });
}

// ---- MaxRoiPool: rois (R, 5) = [batch, x1, y1, x2, y2], Caffe's rounding ----

void MaxRoiPoolOne(const double* roi, const double* image, int64_t channels, int64_t h, int64_t w,
                   int64_t out_h, int64_t out_w, double scale, double* out) {
  const int64_t start_w = SafeIndex(std::round(roi[1] * scale));
  const int64_t start_h = SafeIndex(std::round(roi[2] * scale));
  const int64_t end_w = SafeIndex(std::round(roi[3] * scale));
  const int64_t end_h = SafeIndex(std::round(roi[4] * scale));
  const double bin_h =
      static_cast<double>(std::max<int64_t>(end_h - start_h + 1, 1)) / static_cast<double>(out_h);
  const double bin_w =
      static_cast<double>(std::max<int64_t>(end_w - start_w + 1, 1)) / static_cast<double>(out_w);
  for (int64_t ph = 0; ph < out_h; ++ph) {
    for (int64_t pw = 0; pw < out_w; ++pw) {
      auto clamp = [](int64_t v, int64_t limit) { return std::clamp<int64_t>(v, 0, limit); };
      const int64_t h0 = clamp(SafeIndex(std::floor(ph * bin_h)) + start_h, h);
      const int64_t h1 = clamp(SafeIndex(std::ceil((ph + 1) * bin_h)) + start_h, h);
      const int64_t w0 = clamp(SafeIndex(std::floor(pw * bin_w)) + start_w, w);
      const int64_t w1 = clamp(SafeIndex(std::ceil((pw + 1) * bin_w)) + start_w, w);
      const bool empty = h1 <= h0 || w1 <= w0;
      for (int64_t c = 0; c < channels; ++c) {
        double best = empty ? 0.0 : -std::numeric_limits<double>::max();
        for (int64_t y = h0; y < h1; ++y) {
          for (int64_t x = w0; x < w1; ++x) best = std::max(best, image[(c * h + y) * w + x]);
        }
        out[(c * out_h + ph) * out_w + pw] = best;
      }
    }
  }
}

Status ComputeMaxRoiPool(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* rois, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input X", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *rois, "input rois", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> pooled, node.GetInts("pooled_shape"));
  UH_ASSIGN_OR_RETURN(const float scale, node.GetFloat("spatial_scale", 1.0f));
  if (x->rank() != 4 || rois->rank() != 2 || rois->dim(1) != 5 || pooled.size() != 2 ||
      pooled[0] < 1 || pooled[1] < 1 || !std::isfinite(scale)) {
    return Invalid(node, "X " + x->Describe() + " and rois " + rois->Describe() +
                             " must be (N, C, H, W) and (R, 5) with a 2-value pooled_shape");
  }
  const int64_t channels = x->dim(1), h = x->dim(2), w = x->dim(3), count = rois->dim(0);
  const std::vector<double> xs = TensorToDoubles(*x);
  UH_RETURN_IF_ERROR(CheckOutputSize(node, {count, channels, pooled[0], pooled[1]}));
  const std::vector<double> rs = TensorToDoubles(*rois);
  for (double v : rs) {
    if (!std::isfinite(v)) return Invalid(node, "rois must be finite");
  }
  std::vector<double> ys(static_cast<size_t>(count * channels * pooled[0] * pooled[1]));
  for (int64_t r = 0; r < count; ++r) {
    const double* roi = &rs[static_cast<size_t>(r * 5)];
    const int64_t b = SafeIndex(roi[0]);
    if (b < 0 || b >= x->dim(0)) return Invalid(node, "roi batch index is out of range");
    MaxRoiPoolOne(roi, xs.data() + b * channels * h * w, channels, h, w, pooled[0], pooled[1],
                  scale, ys.data() + r * channels * pooled[0] * pooled[1]);
  }
  return WriteOutput(context, 0, x->dtype(), Shape{count, channels, pooled[0], pooled[1]}, ys);
}

}  // namespace

void RegisterRoiKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("NonMaxSuppression", 10, INT_MAX,
                                       StatelessKernel(ComputeNonMaxSuppression),
                                       AcceptInputDTypes({0, 1}, FloatDTypes())));
  registry.Register(ReferenceKernelDef("RoiAlign", 10, INT_MAX, CreateRoiAlign,
                                       AcceptInputDTypes({0, 1}, FloatDTypes())));
  registry.Register(ReferenceKernelDef("MaxRoiPool", 1, INT_MAX, StatelessKernel(ComputeMaxRoiPool),
                                       AcceptInputDTypes({0, 1}, FloatDTypes())));
}

}  // namespace unihal::cpu
