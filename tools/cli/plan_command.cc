// `unihal plan`: where each node of a model would run and why (R4.2), without running it.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "planner/plan.h"
#include "unihal/runtime.h"
#include "unihal/session.h"

namespace unihal::cli {
namespace {

struct PlanCommandOptions {
  std::string model;
  std::string device = "auto";
  PlacementCliOptions placement;
  bool json = false;
  SimNpuCliOptions sim_npu;
};

Status PrintPlan(const PlanCommandOptions& options) {
  RuntimeOptions runtime_options;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  SessionOptions session_options;
  session_options.device = options.device;
  ApplyPlacementOptions(options.placement, session_options);
  // The session plans and compiles exactly as `unihal run` would, so the report is the plan
  // that runs.
  UH_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::Load(runtime, options.model, session_options));
  const planner::Plan& plan = session->plan();
  if (options.json) {
    nlohmann::ordered_json report = {{"model", options.model}, {"device", session->device_id()}};
    report.update(plan.ToJson());
    std::cout << report.dump(2) << "\n";
    return Status::Ok();
  }
  std::cout << options.model << " on " << session->device_id() << "\n" << plan.ToText();
  return Status::Ok();
}

}  // namespace

Command AddPlanCommand(CLI::App& parent) {
  auto options = std::make_shared<PlanCommandOptions>();
  CLI::App* app = parent.add_subcommand(
      "plan", "Show where each node of a model runs and why, the segments, copies and cost");
  app->add_option("model", options->model, "ONNX model file")->required();
  app->add_option("-d,--device", options->device,
                  "The one device to plan on when --devices is not given: id (cpu:0), driver "
                  "name (cpu) or auto")
      ->capture_default_str();
  AddPlacementOptions(app, &options->placement);
  app->add_flag("--json", options->json, "Print the placement report as JSON to stdout");
  AddSimNpuOptions(app, &options->sim_npu);
  return {app, [options] { return PrintPlan(*options); }};
}

}  // namespace unihal::cli
