// Steering in the server: control vectors loaded at start apply to every
// request, and a request's "control_vectors" field sets their scales for it
// alone; a bad field is a 400 naming it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server_test_util.h"

namespace talkie::server {
namespace {

using nlohmann::json;
using testing::BaseFixtureModel;
using testing::PostJson;
using testing::TestServer;

ServerOptions WithVector(float scale) {
  ServerOptions o;
  // Named by its file: "tiny-cvec".
  o.steering.AddControlVector(std::string(TALKIE_TEST_DATA_DIR) + "/control_vectors/tiny-cvec.gguf",
                              scale);
  return o;
}

std::vector<int32_t> Greedy(const TestServer& s, json extra = json::object()) {
  json body = {{"prompt", "In the beginning"}, {"max_tokens", 12}, {"temperature", 0}};
  body.update(extra);
  const auto r = PostJson(s, "/v1/completions", body.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  if (r.status != 200) return {};
  return json::parse(r.body)["choices"][0]["token_ids"].get<std::vector<int32_t>>();
}

TEST(SteeringServerTest, ARequestScalesALoadedVectorForItselfAlone) {
  const TestServer off(BaseFixtureModel(), WithVector(0.0f));
  const TestServer on(BaseFixtureModel(), WithVector(24.0f));
  const std::vector<int32_t> plain = Greedy(off);
  const std::vector<int32_t> steered_by_default = Greedy(on);
  ASSERT_FALSE(plain.empty());
  EXPECT_NE(steered_by_default, plain) << "a scale of 24 should change the greedy tokens";
  // The per-request field gives what the server's own default gives...
  EXPECT_EQ(Greedy(off, {{"control_vectors", {{"tiny-cvec", 24.0}}}}), steered_by_default);
  EXPECT_EQ(Greedy(on, {{"control_vectors", {{"tiny-cvec", 0.0}}}}), plain);
  // ... and only for that request.
  EXPECT_EQ(Greedy(off), plain);
  EXPECT_EQ(Greedy(on), steered_by_default);
}

TEST(SteeringServerTest, BadControlVectorFieldsAre400NamingTheField) {
  const TestServer s(BaseFixtureModel(), WithVector(1.0f));
  const json base = {{"prompt", "In the beginning"}, {"max_tokens", 2}};
  for (const auto& [field, param] : std::vector<std::pair<json, std::string>>{
           {{{"nope", 1.0}}, "control_vectors.nope"},
           {{{"tiny-cvec", "big"}}, "control_vectors.tiny-cvec"},
           {{{"tiny-cvec", 1e300}}, "control_vectors.tiny-cvec"},
           {json::array({1}), "control_vectors"}}) {
    json body = base;
    body["control_vectors"] = field;
    const auto r = PostJson(s, "/v1/completions", body.dump());
    EXPECT_EQ(r.status, 400) << field.dump() << " " << r.body;
    const json e = json::parse(r.body);
    EXPECT_EQ(e["error"]["param"], param) << r.body;
  }
  const TestServer none(BaseFixtureModel(), ServerOptions{});
  json body = base;
  body["control_vectors"] = {{"tiny-cvec", 1.0}};
  const auto r = PostJson(none, "/v1/completions", body.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("the server loaded none"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace talkie::server
