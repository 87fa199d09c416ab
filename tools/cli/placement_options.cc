// --devices and --fallback, shared by `unihal plan`, `run` and `bench`.
#include "cli/cli_common.h"
#include "planner/plan.h"

namespace unihal::cli {

void AddPlacementOptions(CLI::App* app, PlacementCliOptions* options) {
  app->add_option("--devices", options->devices,
                  "Split the model across these devices, most preferred first, e.g. "
                  "sim-npu,cpu (overrides --device)")
      ->delimiter(',')
      ->allow_extra_args(false);
  app->add_option("--fallback", options->fallback,
                  "Nodes the preferred device cannot run: allow (run them on the next device), "
                  "warn (the same, one warning per node) or forbid (an error)")
      ->check(CLI::IsMember({"allow", "warn", "forbid"}))
      ->capture_default_str();
}

void ApplyPlacementOptions(const PlacementCliOptions& options, SessionOptions& session_options) {
  session_options.devices = options.devices;
  session_options.fallback =
      planner::ParseFallbackPolicy(options.fallback).value_or(FallbackPolicy::kAllow);
}

}  // namespace unihal::cli
