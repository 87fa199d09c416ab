// The cpu driver's kernel families. Each Register* function lives in its own file under
// kernels/ (reference C++) or dnnl/ (oneDNN) and adds its ops to the registry.
#pragma once

#include "unihal/hal/kernel_registry.h"

namespace unihal::cpu {

// kernels/elementwise.cc: Add Sub Mul Div Pow Sum (NumPy broadcasting), Relu Sigmoid Tanh Erf
// Sqrt Exp.
void RegisterElementwiseKernels(hal::KernelRegistry& registry);
// kernels/math.cc: Softmax ReduceMean LayerNormalization Cast.
void RegisterMathKernels(hal::KernelRegistry& registry);
// kernels/shape_ops.cc: Reshape Flatten Transpose Concat Unsqueeze Squeeze ConstantOfShape
// Constant Shape Gather Slice Identity Dropout.
void RegisterShapeKernels(hal::KernelRegistry& registry);
// kernels/nn.cc: reference Conv Gemm MatMul MaxPool AveragePool GlobalAveragePool
// BatchNormalization LRN.
void RegisterReferenceNnKernels(hal::KernelRegistry& registry);
// kernels/elementwise_more.cc: the remaining elementwise and activation ops.
void RegisterMoreElementwiseKernels(hal::KernelRegistry& registry);
// kernels/reductions.cc: Reduce*, ArgMax/ArgMin, CumSum, TopK, Hardmax/LogSoftmax, losses, Einsum.
void RegisterReductionKernels(hal::KernelRegistry& registry);
// kernels/indexing.cc: gather/scatter, Pad, Tile, Split, Range, OneHot, Trilu and the like.
void RegisterIndexingKernels(hal::KernelRegistry& registry);
// kernels/nn_more.cc: Resize, ConvTranspose, the other normalizations and pools, ROI ops, NMS.
void RegisterMoreNnKernels(hal::KernelRegistry& registry);
// kernels/attention.cc: Attention, RMSNormalization, RotaryEmbedding and the other attention ops.
void RegisterAttentionKernels(hal::KernelRegistry& registry);
// kernels/quantization.cc: QuantizeLinear, DequantizeLinear and the integer matmuls/convs.
void RegisterQuantizationKernels(hal::KernelRegistry& registry);
// kernels/recurrent.cc: RNN, GRU, LSTM.
void RegisterRecurrentKernels(hal::KernelRegistry& registry);
// kernels/signal.cc: DFT, STFT and the window functions.
void RegisterSignalKernels(hal::KernelRegistry& registry);
// kernels/training.cc: training-mode Dropout and BatchNormalization, Adagrad Adam Momentum.
void RegisterTrainingKernels(hal::KernelRegistry& registry);
// kernels/flex_attention.cc: FlexAttention (ai.onnx.preview).
void RegisterFlexAttentionKernels(hal::KernelRegistry& registry);
// kernels/ml_ops.cc: ai.onnx.ml ops on numeric tensors.
void RegisterMlKernels(hal::KernelRegistry& registry);
// kernels/random.cc: RandomUniform(Like), RandomNormal(Like), Bernoulli.
void RegisterRandomKernels(hal::KernelRegistry& registry);
// kernels/tfidf_vectorizer.cc: TfIdfVectorizer over integer token ids.
void RegisterTfIdfVectorizerKernel(hal::KernelRegistry& registry);
// kernels/image_decoder.cc: ImageDecoder (JPEG, PNG, TIFF, WebP, JPEG 2000, BMP, PNM).
void RegisterImageDecoderKernel(hal::KernelRegistry& registry);
// kernels/control_flow.cc: If, Loop, Scan (they compile their subgraphs with `registry`, which
// must outlive the kernels it creates).
void RegisterControlFlowKernels(hal::KernelRegistry& registry);
// kernels/sequence_ops.cc: SequenceEmpty SequenceConstruct SequenceInsert SequenceAt
// SequenceErase SequenceLength ConcatFromSequence SplitToSequence, and SequenceMap
// (kernels/sequence_map.cc, which compiles its body with `registry`, like control flow).
void RegisterSequenceKernels(hal::KernelRegistry& registry);
void RegisterSequenceMapKernel(hal::KernelRegistry& registry);
// kernels/optional_ops.cc: Optional OptionalHasElement OptionalGetElement.
void RegisterOptionalKernels(hal::KernelRegistry& registry);
// dnnl/*.cc: oneDNN Conv MatMul Gemm MaxPool AveragePool GlobalAveragePool BatchNormalization LRN,
// at higher priority than the reference kernels for the cases they handle.
void RegisterDnnlKernels(hal::KernelRegistry& registry);

// Everything above.
void RegisterAllCpuKernels(hal::KernelRegistry& registry);
// Everything above except oneDNN: the plain C++ reference kernels (the numerics oracle), which
// the sim-npu driver computes with (wired in src/drivers/registry.cc).
void RegisterReferenceCpuKernels(hal::KernelRegistry& registry);

}  // namespace unihal::cpu
