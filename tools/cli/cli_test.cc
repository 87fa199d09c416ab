// Runs the real `unihal` binary as a subprocess and checks exit codes, stdout JSON and files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "io/npy.h"
#include "onnx/test_model_builder.h"

extern char** environ;

namespace unihal::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
namespace mb = onnx_import::testing;

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("unihal_cli_test_" + std::to_string(::getpid()) + "_" + test->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `unihal args...`, its stdout and stderr captured in files.
  CliResult Cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {UNIHAL_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    return Spawn(argv);
  }

  // Runs argv[0] (looked up on the PATH when it has no '/') with stdout and stderr captured.
  CliResult Spawn(std::vector<std::string> argv_strings) {
    const std::string out_path = (dir_ / "stdout.txt").string();
    const std::string err_path = (dir_ / "stderr.txt").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    CliResult result;
    const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      result.err = "cannot start " + argv_strings[0] + ": " + std::strerror(spawned);
      return result;
    }
    int wait_status = 0;
    waitpid(pid, &wait_status, 0);
    // A crash (signal) must never happen; report it as 128 + signal like a shell does.
    result.exit_code =
        WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
    result.out = ReadFile(out_path);
    result.err = ReadFile(err_path);
    return result;
  }

  // A Python that can import onnxruntime and numpy ($UNIHAL_PYTHON, else the source tree's
  // .venv), or "" when there is none.
  std::string PythonWithOnnxRuntime() {
    const char* env = std::getenv("UNIHAL_PYTHON");
    const std::string python = env != nullptr && *env != '\0'
                                   ? std::string(env)
                                   : std::string(UNIHAL_SOURCE_DIR) + "/.venv/bin/python";
    const CliResult r = Spawn({python, "-c", "import numpy, onnxruntime"});
    return r.exit_code == 0 ? python : "";
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // a: float32[n, 3], b: float32[3, 2]; outputs "y/0" = a @ b and "y:0" = 2 (a @ b), whose
  // names both sanitise to "y_0".
  std::string WriteMatMulModel() {
    onnx::ModelProto model = mb::NewModel();
    onnx::GraphProto* graph = model.mutable_graph();
    mb::AddInput(graph, "a", onnx::TensorProto::FLOAT, {-1, 3}, {"n"});
    mb::AddInput(graph, "b", onnx::TensorProto::FLOAT, {3, 2});
    mb::AddNode(graph, "MatMul", {"a", "b"}, {"y/0"}, "matmul");
    onnx::NodeProto* gemm = mb::AddNode(graph, "Gemm", {"a", "b"}, {"y:0"}, "gemm");
    mb::AddAttr(gemm, "alpha", onnx::AttributeProto::FLOAT)->set_f(2.0f);
    mb::AddOutput(graph, "y/0", onnx::TensorProto::FLOAT, {-1, 2}, {"n"});
    mb::AddOutput(graph, "y:0", onnx::TensorProto::FLOAT, {-1, 2}, {"n"});
    const std::string path = Path("matmul.onnx");
    std::ofstream(path, std::ios::binary) << mb::Serialize(model);
    return path;
  }

  // seq: sequence(float32[2, 3]) and x: float32[2, 3] -> grown = SequenceInsert(seq, x), a
  // sequence output, and n = SequenceLength(grown). Session::Run refuses such a model.
  std::string WriteSequenceModel() {
    onnx::ModelProto model = mb::NewModel();
    onnx::GraphProto* graph = model.mutable_graph();
    auto sequence_of_2x3 = [](onnx::ValueInfoProto* info) {
      onnx::TypeProto::Tensor* element =
          info->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type();
      element->set_elem_type(onnx::TensorProto::FLOAT);
      element->mutable_shape()->add_dim()->set_dim_value(2);
      element->mutable_shape()->add_dim()->set_dim_value(3);
    };
    onnx::ValueInfoProto* seq = graph->add_input();
    seq->set_name("seq");
    sequence_of_2x3(seq);
    mb::AddInput(graph, "x", onnx::TensorProto::FLOAT, {2, 3});
    mb::AddNode(graph, "SequenceInsert", {"seq", "x"}, {"grown"}, "insert");
    mb::AddNode(graph, "SequenceLength", {"grown"}, {"n"}, "length");
    onnx::ValueInfoProto* grown = graph->add_output();
    grown->set_name("grown");
    sequence_of_2x3(grown);
    mb::AddOutput(graph, "n", onnx::TensorProto::INT64, {});
    const std::string path = Path("sequence.onnx");
    std::ofstream(path, std::ios::binary) << mb::Serialize(model);
    return path;
  }

  // a.npy = [[0, 1, 2], [3, 4, 5]] and b.pb = ones(3, 2) as a TensorProto.
  void WriteInputs() {
    ASSERT_TRUE(
        io::WriteNpyFile(Path("a.npy"), Tensor::FromVector<float>({2, 3}, {0, 1, 2, 3, 4, 5}))
            .ok());
    Result<onnx::TensorProto> b =
        onnx_import::TensorToProto(Tensor::FromVector<float>({3, 2}, {1, 1, 1, 1, 1, 1}), "b");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    std::ofstream(Path("b.pb"), std::ios::binary) << b->SerializeAsString();
  }

  fs::path dir_;
};

std::vector<float> NpyValues(const std::string& path, Shape expected_shape) {
  Result<Tensor> t = io::ReadNpyFile(path);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return {};
  EXPECT_EQ(t->dtype(), DType::kF32);
  EXPECT_EQ(t->shape(), expected_shape);
  return std::vector<float>(t->data_as<float>(), t->data_as<float>() + t->num_elements());
}

TEST_F(CliTest, HelpOnEveryCommandExitsZero) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"devices", "--help"}, {"run", "--help"}, {"bench", "--help"}}) {
    const CliResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << "\n" << r.err;
    const std::string usage = args.size() == 1 ? "Usage: unihal" : "Usage: unihal " + args[0];
    EXPECT_NE(r.out.find(usage), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  CliResult r = Cli({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "unihal: error: A subcommand is required\nrun 'unihal --help' for usage\n");
  r = Cli({"run", "--output-dir", Path("out")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "unihal: error: model is required\nrun 'unihal run --help' for usage\n");
  r = Cli({"bench", "m.onnx", "--iterations", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("unihal: error: --iterations: Value 0 not in range 1 to", 0), 0u) << r.err;
}

TEST_F(CliTest, DevicesJsonHasEveryKey) {
  const CliResult r = Cli({"devices", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);
  ASSERT_TRUE(report.contains("devices"));
  ASSERT_TRUE(report["unavailable"].is_array());
  for (const json& u : report["unavailable"]) {
    EXPECT_TRUE(u["driver"].is_string());
    EXPECT_TRUE(u["reason"].is_string());
  }
  bool has_cpu = false;
  for (const json& device : report["devices"]) {
    for (const char* key : {"id", "driver", "kind", "vendor", "name"}) {
      EXPECT_TRUE(device[key].is_string()) << key;
    }
    EXPECT_TRUE(device["is_simulated"].is_boolean());
    for (const char* key : {"memory_total_bytes", "compute_units"}) {
      EXPECT_TRUE(device.contains(key) && (device[key].is_null() || device[key].is_number()))
          << key;
    }
    ASSERT_TRUE(device["dtypes"].is_array());
    EXPECT_FALSE(device["dtypes"].empty());
    const json& health = device["health"];
    for (const char* key : {"temperature_c", "power_w", "utilization", "memory_used_bytes"}) {
      EXPECT_TRUE(health.contains(key) && (health[key].is_null() || health[key].is_number()))
          << key;
    }
    if (device["id"] == "cpu:0") {
      has_cpu = true;
      EXPECT_EQ(device["kind"], "cpu");
      EXPECT_EQ(device["is_simulated"], false);
    }
  }
  EXPECT_TRUE(has_cpu) << r.out;
}

TEST_F(CliTest, DevicesTableListsTheCpu) {
  const CliResult r = Cli({"devices"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("ID ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\ncpu:0 "), std::string::npos) << r.out;
}

TEST_F(CliTest, RunWritesEveryOutputAsNpyAndReportsJson) {
  const std::string model = WriteMatMulModel();
  WriteInputs();
  const std::string out_dir = Path("results/nested");
  const CliResult r = Cli({"run", model, "--input", "a=" + Path("a.npy"), "--input",
                           "b=" + Path("b.pb"), "--output-dir", out_dir, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);
  EXPECT_EQ(report["model"], model);
  EXPECT_EQ(report["device"], "cpu:0");
  EXPECT_TRUE(report["latency_ms"].is_number());
  EXPECT_GE(report["latency_ms"].get<double>(), 0.0);
  const json expected_outputs = json::parse(R"([
      {"name": "y/0", "path": ")" + out_dir +
                                            R"(/y_0.npy", "dtype": "float32", "shape": [2, 2]},
      {"name": "y:0", "path": ")" + out_dir +
                                            R"(/y_0_2.npy", "dtype": "float32", "shape": [2, 2]}
  ])");
  EXPECT_EQ(report["outputs"], expected_outputs);
  EXPECT_EQ(NpyValues(out_dir + "/y_0.npy", {2, 2}), (std::vector<float>{3, 3, 12, 12}));
  EXPECT_EQ(NpyValues(out_dir + "/y_0_2.npy", {2, 2}), (std::vector<float>{6, 6, 24, 24}));
}

TEST_F(CliTest, MissingInputListsTheExpectedInputs) {
  const std::string model = WriteMatMulModel();
  WriteInputs();
  const CliResult r =
      Cli({"run", model, "--input", "a=" + Path("a.npy"), "--output-dir", Path("out")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err,
            "unihal: error: missing input 'b'; the model expects:\n"
            "  a: float32[n, 3]\n"
            "  b: float32[3, 2]\n"
            "pass each with --input NAME=FILE (.npy or .pb), or add --random-inputs\n");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(Path("out")));
}

TEST_F(CliTest, RandomInputsAreDeterministic) {
  const std::string model = WriteMatMulModel();
  for (const char* dir : {"first", "second"}) {
    const CliResult r = Cli({"run", model, "--random-inputs", "--output-dir", Path(dir)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("  y/0: float32[1, 2] -> " + Path(dir) + "/y_0.npy\n"), std::string::npos)
        << r.out;
  }
  const std::string first = ReadFile(Path("first/y_0.npy"));
  EXPECT_EQ(first.size(), 128u + 2 * 4);
  EXPECT_EQ(first, ReadFile(Path("second/y_0.npy")));
  const CliResult other_seed =
      Cli({"run", model, "--random-inputs", "--seed", "7", "--output-dir", Path("third")});
  ASSERT_EQ(other_seed.exit_code, 0) << other_seed.err;
  EXPECT_NE(first, ReadFile(Path("third/y_0.npy")));
}

TEST_F(CliTest, BadInputsPassTheSessionsMessageThrough) {
  const std::string model = WriteMatMulModel();
  WriteInputs();
  CliResult r = Cli(
      {"run", model, "-i", "a=" + Path("a.npy"), "-i", "b=" + Path("a.npy"), "-o", Path("out")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err,
            "unihal: error: input 'b' has shape [2, 3] but the model expects b: float32[3, 2]\n");
  r = Cli({"run", model, "-i", "a=" + Path("a.npy"), "-i", "b=" + Path("b.pb"), "-i",
           "c=" + Path("a.npy"), "-o", Path("out")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err.rfind("unihal: error: the model has no input named 'c'; its inputs are:\n", 0),
            0u)
      << r.err;
  r = Cli({"run", model, "-i", "a", "-o", Path("out")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "unihal: error: --input 'a' should be NAME=FILE, e.g. --input image=cat.npy\n");
  r = Cli({"run", model, "-i", "a=" + Path("absent.npy"), "-o", Path("out")});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "unihal: error: input 'a': file '" + Path("absent.npy") +
                       "' does not exist; check the path\n");
}

TEST_F(CliTest, UnknownDeviceIsNotFound) {
  const std::string model = WriteMatMulModel();
  const CliResult r =
      Cli({"run", model, "--random-inputs", "--device", "gpu:7", "-o", Path("out")});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err.rfind("unihal: error: unknown device 'gpu:7'", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("available devices: cpu:0"), std::string::npos) << r.err;
}

TEST_F(CliTest, MissingAndTruncatedModelFiles) {
  const std::string absent = Path("absent.onnx");
  CliResult r = Cli({"bench", absent});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "unihal: error: model file '" + absent + "' does not exist; check the path\n");

  const std::string model = WriteMatMulModel();
  const std::string bytes = ReadFile(model);
  const std::string truncated = Path("truncated.onnx");
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  r = Cli({"run", truncated, "--random-inputs", "-o", Path("out")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err.rfind("unihal: error: model '" + truncated + "' is not a valid ONNX model", 0),
            0u)
      << r.err;
}

TEST_F(CliTest, BenchReportsOrderedPercentiles) {
  const std::string model = WriteMatMulModel();
  WriteInputs();
  const CliResult r = Cli({"bench", model, "--input", "a=" + Path("a.npy"), "--threads", "1",
                           "--iterations", "20", "--warmup", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);
  EXPECT_EQ(report["model"], model);
  EXPECT_EQ(report["device"], "cpu:0");
  EXPECT_EQ(report["threads"], 1);
  EXPECT_EQ(report["iterations"], 20);
  const json& latency = report["latency_ms"];
  const double p50 = latency["p50"], p90 = latency["p90"], p99 = latency["p99"];
  EXPECT_GT(p50, 0.0);
  EXPECT_LE(p50, p90);
  EXPECT_LE(p90, p99);
  EXPECT_GT(latency["mean"].get<double>(), 0.0);
  EXPECT_NEAR(report["throughput_per_s"].get<double>(), 1000.0 / latency["mean"].get<double>(),
              1e-6 * report["throughput_per_s"].get<double>());
  EXPECT_EQ(report.size(), 6u);
}

TEST_F(CliTest, BenchProfileShowsWhereTheTimeGoes) {
  const std::string model = WriteMatMulModel();
  const CliResult r = Cli({"bench", model, "--batch", "2", "--iterations", "7", "--warmup", "3",
                           "--profile", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json profile = json::parse(r.out)["profile"];
  ASSERT_EQ(profile["nodes"].size(), 2u);  // the model's MatMul and Gemm
  double node_ms = 0;
  for (const json& node : profile["nodes"]) {
    EXPECT_EQ(node["runs"], 7);  // the timed runs only, not the warm-up
    EXPECT_EQ(node["device"], "cpu:0");
    node_ms += node["ms_per_run"].get<double>();
  }
  EXPECT_NEAR(node_ms, profile["node_ms_per_run"].get<double>(), 1e-9);
  ASSERT_EQ(profile["op_types"].size(), 2u);
  double op_type_ms = 0;
  for (const json& op_type : profile["op_types"]) {
    EXPECT_EQ(op_type["nodes"], 1);
    op_type_ms += op_type["ms_per_run"].get<double>();
  }
  EXPECT_NEAR(op_type_ms, node_ms, 1e-9);
  EXPECT_GE(profile["outside_nodes_ms_per_run"].get<double>(), 0.0);
  const CliResult text = Cli({"bench", model, "--batch", "2", "-n", "2", "--profile"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("slowest nodes"), std::string::npos) << text.out;
  const CliResult both =
      Cli({"bench", model, "--batch", "2", "--profile", "--compare", "onnxruntime"});
  EXPECT_EQ(both.exit_code, 3);
  EXPECT_NE(both.err.find("--profile times one session's nodes"), std::string::npos) << both.err;
}

TEST_F(CliTest, BenchNeedsInputsWithSymbolicDims) {
  const std::string model = WriteMatMulModel();
  const CliResult r = Cli({"bench", model, "--iterations", "1"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err,
            "unihal: error: input 'a' has a symbolic dimension (a: float32[n, 3]), so its shape "
            "is not known; pass it with --input a=FILE\n");
}

TEST_F(CliTest, BenchBatchSetsTheSymbolicFirstDim) {
  const std::string model = WriteMatMulModel();
  const CliResult r =
      Cli({"bench", model, "--batch", "3", "--iterations", "2", "--warmup", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["iterations"], 2);
  // --dim names the symbol instead.
  EXPECT_EQ(Cli({"bench", model, "--dim", "n=2", "--iterations", "1"}).exit_code, 0);
  const CliResult bad = Cli({"bench", model, "--dim", "n", "--iterations", "1"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_EQ(bad.err, "unihal: error: --dim 'n' should be NAME=N, e.g. --dim seq=128\n");
}

TEST_F(CliTest, BenchCompareWithOnnxRuntimeReportsRatioAndError) {
  const std::string python = PythonWithOnnxRuntime();
  if (python.empty()) GTEST_SKIP() << "no Python with onnxruntime (run 'make setup')";
  const std::string model = WriteMatMulModel();
  const CliResult r =
      Cli({"bench", model, "--compare", "onnxruntime", "--python", python, "--threads", "1",
           "--batch", "4", "--iterations", "6", "--warmup", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);
  EXPECT_EQ(report["model"], model);
  EXPECT_EQ(report["device"], "cpu:0");
  EXPECT_EQ(report["threads"], 1);
  EXPECT_EQ(report["batch"], 4);
  EXPECT_EQ(report["iterations"], 6);
  EXPECT_EQ(report["blocks"], 6);
  const double ours = report["unihal_ms"], theirs = report["onnxruntime_ms"];
  EXPECT_GT(ours, 0.0);
  EXPECT_GT(theirs, 0.0);
  EXPECT_NEAR(report["ratio"].get<double>(), ours / theirs, 1e-9 * (ours / theirs));
  EXPECT_LE(ours, report["unihal_p90_ms"].get<double>());
  EXPECT_LE(theirs, report["onnxruntime_p90_ms"].get<double>());
  EXPECT_GE(report["max_rel_error"].get<double>(), 0.0);
  EXPECT_LT(report["max_rel_error"].get<double>(), 1e-5);
  EXPECT_EQ(report["outputs_agree"], true);
  ASSERT_EQ(report["outputs"].size(), 2u);
  EXPECT_EQ(report["outputs"][0]["name"], "y/0");
  EXPECT_EQ(report["outputs"][1]["name"], "y:0");
  EXPECT_TRUE(report["onnxruntime_version"].is_string());
  EXPECT_EQ(r.err, "");
}

// A 0-d output must reach the comparison as 0-d from both sides (numpy's ascontiguousarray
// would make ONNX Runtime's 1-d, and the shapes would disagree).
TEST_F(CliTest, BenchCompareAgreesOnAScalarOutput) {
  const std::string python = PythonWithOnnxRuntime();
  if (python.empty()) GTEST_SKIP() << "no Python with onnxruntime (run 'make setup')";
  onnx::ModelProto model = mb::NewModel();
  onnx::GraphProto* graph = model.mutable_graph();
  mb::AddInput(graph, "a", onnx::TensorProto::FLOAT, {2, 3});
  onnx::NodeProto* sum = mb::AddNode(graph, "ReduceSum", {"a"}, {"total"}, "sum");
  mb::AddAttr(sum, "keepdims", onnx::AttributeProto::INT)->set_i(0);
  mb::AddOutput(graph, "total", onnx::TensorProto::FLOAT, {});
  const std::string path = Path("scalar.onnx");
  std::ofstream(path, std::ios::binary) << mb::Serialize(model);

  const CliResult r = Cli({"bench", path, "--compare", "onnxruntime", "--python", python,
                           "--iterations", "2", "--warmup", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);
  EXPECT_EQ(report["outputs_agree"], true);
  EXPECT_LT(report["max_rel_error"].get<double>(), 1e-5);
}

// WriteSequenceModel: bench runs it through RunValues, and ONNX Runtime's sequence comes back
// element by element.
TEST_F(CliTest, BenchCompareRunsSequenceInputsAndOutputs) {
  const std::string python = PythonWithOnnxRuntime();
  if (python.empty()) GTEST_SKIP() << "no Python with onnxruntime (run 'make setup')";
  const std::string path = WriteSequenceModel();

  const CliResult random = Cli({"bench", path, "--compare", "onnxruntime", "--python", python,
                                "--iterations", "2", "--warmup", "0", "--json"});
  ASSERT_EQ(random.exit_code, 0) << random.err;
  const json report = json::parse(random.out);
  EXPECT_EQ(report["outputs_agree"], true);
  ASSERT_EQ(report["outputs"].size(), 2u);
  EXPECT_EQ(report["outputs"][0]["name"], "grown");
  EXPECT_LT(report["outputs"][0]["max_rel_error"].get<double>(), 1e-6);

  // Given elements: three files make a sequence of three.
  const Tensor element = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_TRUE(io::WriteNpyFile(Path("e.npy"), element).ok());
  const std::string e = Path("e.npy");
  const CliResult given = Cli({"bench", path, "--input", "seq=" + e + "," + e + "," + e,
                               "--iterations", "1", "--warmup", "0"});
  EXPECT_EQ(given.exit_code, 0) << given.err;
  const CliResult missing = Cli({"bench", path, "--input", "seq=" + e + "," + Path("no.npy"),
                                 "--iterations", "1", "--warmup", "0"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("input 'seq'"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("no.npy"), std::string::npos) << missing.err;
  const CliResult soak = Cli({"bench", path, "--requests", "2"});
  EXPECT_EQ(soak.exit_code, 3) << soak.err;
  EXPECT_NE(soak.err.find("carries tensors only"), std::string::npos) << soak.err;
}

// A sequence output is one .npy per element; the JSON lists them. Given seq = [e, e] and x,
// grown = [e, e, x] and n = 3.
TEST_F(CliTest, RunWritesASequenceOutputElementByElement) {
  const std::string path = WriteSequenceModel();
  ASSERT_TRUE(
      io::WriteNpyFile(Path("e.npy"), Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6})).ok());
  ASSERT_TRUE(
      io::WriteNpyFile(Path("x.npy"), Tensor::FromVector<float>({2, 3}, {7, 8, 9, 10, 11, 12}))
          .ok());
  const CliResult r = Cli({"run", path, "--input", "seq=" + Path("e.npy") + "," + Path("e.npy"),
                           "--input", "x=" + Path("x.npy"), "-o", Path("out"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);
  ASSERT_EQ(report["outputs"].size(), 2u);
  const json& grown = report["outputs"][0];
  EXPECT_EQ(grown["name"], "grown");
  ASSERT_EQ(grown["elements"].size(), 3u);
  EXPECT_EQ(grown["elements"][2]["path"], Path("out/grown_2.npy"));
  EXPECT_EQ(NpyValues(Path("out/grown_0.npy"), {2, 3}), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(NpyValues(Path("out/grown_2.npy"), {2, 3}), (std::vector<float>{7, 8, 9, 10, 11, 12}));
  Result<Tensor> n = io::ReadNpyFile(Path("out/n.npy"));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->data_as<int64_t>()[0], 3);

  // Without --input and --random-inputs, both inputs are named as missing.
  const CliResult missing = Cli({"run", path, "-o", Path("out2")});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_NE(missing.err.find("missing inputs 'seq', 'x'"), std::string::npos) << missing.err;
}

// Random indices (0..9) overrun a dim of 2: the error says the values were made up and how to
// give real ones, and real ones make the same command work.
TEST_F(CliTest, BenchSaysWhenRandomInputsMayBeAtFault) {
  onnx::ModelProto model = mb::NewModel();
  onnx::GraphProto* graph = model.mutable_graph();
  mb::AddInput(graph, "data", onnx::TensorProto::FLOAT, {2, 3});
  mb::AddInput(graph, "indices", onnx::TensorProto::INT64, {4});
  mb::AddNode(graph, "Gather", {"data", "indices"}, {"rows"}, "gather");
  mb::AddOutput(graph, "rows", onnx::TensorProto::FLOAT, {4, 3});
  const std::string path = Path("gather.onnx");
  std::ofstream(path, std::ios::binary) << mb::Serialize(model);

  const CliResult random = Cli({"bench", path, "--iterations", "1", "--warmup", "0"});
  EXPECT_EQ(random.exit_code, 3) << random.err;
  EXPECT_NE(random.err.find("out of range"), std::string::npos) << random.err;
  EXPECT_NE(random.err.find("random values for 'data', 'indices'"), std::string::npos)
      << random.err;
  EXPECT_NE(random.err.find("--input NAME=FILE"), std::string::npos) << random.err;

  ASSERT_TRUE(
      io::WriteNpyFile(Path("indices.npy"), Tensor::FromVector<int64_t>({4}, {0, 1, 1, 0})).ok());
  const CliResult real = Cli({"bench", path, "--input", "indices=" + Path("indices.npy"),
                              "--iterations", "1", "--warmup", "0"});
  EXPECT_EQ(real.exit_code, 0) << real.err;
}

TEST_F(CliTest, BenchCompareWithoutPythonSaysHowToFix) {
  const std::string model = WriteMatMulModel();
  const std::string python = Path("no-such-dir/python");
  const CliResult r = Cli({"bench", model, "--compare", "onnxruntime", "--python", python,
                           "--batch", "1", "--iterations", "1"});
  EXPECT_EQ(r.exit_code, 8);
  EXPECT_EQ(r.err, "unihal: error: cannot start Python '" + python +
                       "' for ONNX Runtime (No such file or directory); run 'make setup' to "
                       "install ONNX Runtime into .venv, or pass --python PATH (or set "
                       "UNIHAL_PYTHON) to a Python that has the onnxruntime package\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, BenchCompareWithAPythonLackingOnnxRuntime) {
  // A "Python" that fails the worker's imports the way a bare interpreter would.
  const std::string python = Path("fake_python");
  std::ofstream(python) << "#!/bin/sh\n"
                           "echo '{\"ok\": false, \"error\": \"ModuleNotFoundError: No module "
                           "named onnxruntime\"}'\n";
  fs::permissions(python, fs::perms::owner_all);
  const CliResult r = Cli({"bench", WriteMatMulModel(), "--compare", "onnxruntime", "--python",
                           python, "--batch", "1", "--iterations", "1"});
  EXPECT_EQ(r.exit_code, 8);
  EXPECT_EQ(r.err.rfind("unihal: error: Python '" + python +
                            "' cannot import numpy and onnxruntime (ModuleNotFoundError: No "
                            "module named onnxruntime); run 'make setup'",
                        0),
            0u)
      << r.err;
}

TEST_F(CliTest, BenchCompareRejectsOtherRuntimes) {
  const CliResult r = Cli({"bench", WriteMatMulModel(), "--compare", "tvm"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--compare"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace unihal::cli
