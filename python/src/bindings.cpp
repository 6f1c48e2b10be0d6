// talkie._talkie: the pybind11 layer over libtalkie's public API
// (include/talkie/). It converts numpy arrays at the boundary, hands result
// buffers to numpy without copying (each array owns its Tensor through a
// capsule), releases the GIL while the engine computes, and turns
// talkie::Error into ValueError. The Transformers-style surface (ModelOutput,
// generate's conventions) is Python code in python/talkie/__init__.py.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "talkie/talkie.h"

namespace py = pybind11;

namespace {

// A numpy array over a Tensor's buffer; the array keeps the Tensor alive.
template <typename T>
py::array_t<T> ToNumpy(talkie::Tensor<T>&& t) {
  auto* owned = new talkie::Tensor<T>(std::move(t));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<talkie::Tensor<T>*>(p); });
  std::vector<py::ssize_t> shape(owned->shape().begin(), owned->shape().end());
  return py::array_t<T>(shape, owned->data(), free_when_done);
}

// A C-contiguous [rows, cols] array of T; anything else is a ValueError /
// TypeError naming `what`.
template <typename T>
talkie::Tensor<T> ToTensor2d(const py::array& a, const char* what) {
  if (a.ndim() != 2)
    throw py::value_error(std::string(what) + " must be 2-d [batch, length], got " +
                          std::to_string(a.ndim()) + "-d");
  auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!c) throw py::type_error(std::string(what) + ": cannot convert to an integer array");
  std::vector<int64_t> shape = {static_cast<int64_t>(c.shape(0)), static_cast<int64_t>(c.shape(1))};
  std::vector<T> data(c.data(), c.data() + c.size());
  return talkie::Tensor<T>(shape, std::move(data));
}

struct PyCache {
  talkie::KvCache cache;
  const talkie::Model* owner = nullptr;  // the model that made it
};

talkie::Policy PolicyOf(const std::string& name) { return talkie::ParsePolicy(name); }

// A Python callable held by C++ hooks: copies share it without touching its
// reference count (the engine copies hook sets with the GIL released), and
// the last owner drops it under the GIL.
std::shared_ptr<py::object> HoldPython(py::object fn) {
  return std::shared_ptr<py::object>(new py::object(std::move(fn)), [](py::object* p) {
    py::gil_scoped_acquire acquire;
    delete p;
  });
}

// fn(activation, event) at a hook: activation is a writable float32 view of
// the engine's buffer (valid during the call only); event is (name, layer,
// sequence, slots, positions). A returned array replaces the activation.
talkie::HookFunction PythonHook(py::object fn) {
  return [held = HoldPython(std::move(fn))](const talkie::HookEvent& e) {
    py::gil_scoped_acquire acquire;
    const py::capsule no_owner(e.data, [](void*) {});
    std::vector<py::ssize_t> shape(e.shape.begin(), e.shape.end());
    py::array_t<float> view(shape, e.data, no_owner);
    const std::vector<int64_t> slots(e.slots.begin(), e.slots.end()),
        positions(e.positions.begin(), e.positions.end());
    const py::object result =
        (*held)(view, py::make_tuple(e.name, e.layer, e.sequence, slots, positions));
    if (result.is_none() || result.is(view)) return;
    auto replacement =
        py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(result);
    if (!replacement || static_cast<size_t>(replacement.size()) != e.size())
      throw py::value_error("hook '" + e.name + "' returned an array of another size (expected " +
                            std::to_string(e.size()) + " float32 values)");
    std::copy_n(replacement.data(), e.size(), e.data);
  };
}

}  // namespace

PYBIND11_MODULE(_talkie, m) {
  m.doc() = "talkie.cpp engine bindings (use the `talkie` package)";
  py::register_exception<talkie::Error>(m, "TalkieError", PyExc_ValueError);
  m.def("version", [] { return std::string(talkie::Version()); });
  m.def("simd_target", &talkie::SimdTarget);
  m.def("default_model_path", &talkie::DefaultModelPath);

  py::class_<PyCache, std::shared_ptr<PyCache>>(m, "KVCache")
      .def("__len__", [](const PyCache& c) { return c.cache.length(); })
      .def_property_readonly("batch", [](const PyCache& c) { return c.cache.batch(); })
      .def_property_readonly("capacity", [](const PyCache& c) { return c.cache.capacity(); })
      .def("get_seq_length", [](const PyCache& c) { return c.cache.length(); })
      .def("crop",
           [](PyCache& c, int64_t n) {
             if (n < 0)
               n = std::max<int64_t>(0, c.cache.length() + n);  // HF: negative drops from the end
             c.cache.Truncate(std::min(n, c.cache.length()));
           })
      .def("copy",
           [](const PyCache& c) {
             return std::make_shared<PyCache>(PyCache{c.cache.Copy(), c.owner});
           })
      .def("select_rows", [](const PyCache& c, const std::vector<int64_t>& rows) {
        return std::make_shared<PyCache>(PyCache{c.cache.SelectRows(rows), c.owner});
      });

  py::class_<talkie::Model>(m, "Model")
      .def(py::init([](const std::string& path, int threads, const std::string& policy) {
             talkie::EngineOptions o;
             o.threads = threads;
             o.policy = PolicyOf(policy);
             py::gil_scoped_release release;
             return talkie::Model::Load(path, talkie::Engine(o));
           }),
           py::arg("path") = "", py::arg("threads") = 0, py::arg("policy") = "exact")
      .def_property_readonly("config",
                             [](const talkie::Model& model) {
                               const talkie::ModelConfig& c = model.config();
                               py::dict d;
                               d["vocab_size"] = c.vocab_size;
                               d["n_embd"] = c.n_embd;
                               d["n_layer"] = c.n_layer;
                               d["n_head"] = c.n_head;
                               d["head_dim"] = c.head_dim;
                               d["intermediate_size"] = c.intermediate_size;
                               d["max_position_embeddings"] = c.max_position_embeddings;
                               d["rope_theta"] = c.rope_theta;
                               d["eos_token_id"] = c.eos_token_id;
                               return d;
                             })
      .def_property_readonly("info",
                             [](const talkie::Model& model) {
                               const talkie::ModelInfo& i = model.info();
                               py::dict d;
                               d["path"] = i.path;
                               d["directory"] = i.directory;
                               d["checkpoint_format"] = i.checkpoint_format;
                               d["name_layout"] = i.name_layout;
                               d["quantization"] = i.quantization;
                               d["n_parameters"] = i.n_parameters;
                               return d;
                             })
      .def(
          "new_cache",
          [](const talkie::Model& model, int64_t batch, int64_t capacity) {
            return std::make_shared<PyCache>(PyCache{model.NewCache(batch, capacity), &model});
          },
          py::arg("batch") = 1, py::arg("capacity") = 0)
      .def(
          "forward",
          [](const talkie::Model& model, const py::object& input_ids, const py::object& mask,
             const py::object& positions, std::shared_ptr<PyCache> cache, bool hidden,
             bool attentions, int64_t logits_to_keep, const py::object& embeds,
             const talkie::Hooks* hooks, const std::vector<std::string>& capture) {
            talkie::ForwardRequest req;
            req.hooks = hooks;
            req.capture = capture;
            if (!embeds.is_none()) {
              auto e =
                  py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(embeds);
              if (!e || e.ndim() != 3)
                throw py::value_error(
                    "inputs_embeds must be a float array [batch, length, n_embd]");
              std::vector<int64_t> shape(e.shape(), e.shape() + 3);
              req.inputs_embeds =
                  talkie::Tensor<float>(shape, std::vector<float>(e.data(), e.data() + e.size()));
            } else {
              req.input_ids = ToTensor2d<int32_t>(py::array(input_ids), "input_ids");
            }
            if (!mask.is_none())
              req.attention_mask = ToTensor2d<uint8_t>(py::array(mask), "attention_mask");
            if (!positions.is_none())
              req.position_ids = ToTensor2d<int64_t>(py::array(positions), "position_ids");
            req.output_hidden_states = hidden;
            req.output_attentions = attentions;
            const int64_t q_len =
                embeds.is_none() ? req.input_ids.dim(1) : req.inputs_embeds.dim(1);
            if (logits_to_keep > 0 && logits_to_keep < q_len) {
              req.logits = talkie::LogitsFor::kSelected;
              for (int64_t t = q_len - logits_to_keep; t < q_len; ++t)
                req.logit_positions.push_back(t);
            }
            // Left-padded chunked prefill feeds rows that are all padding so far.
            req.allow_padding_only_rows = cache != nullptr;
            if (cache && cache->owner != &model)
              throw py::value_error("past_key_values: this cache was made by another model");
            talkie::ForwardResult out;
            {
              py::gil_scoped_release release;
              out = model.Forward(req, cache ? &cache->cache : nullptr);
            }
            py::object hs = py::none(), at = py::none();
            if (hidden) {
              py::tuple t(out.hidden_states.size());
              for (size_t i = 0; i < out.hidden_states.size(); ++i)
                t[i] = ToNumpy(std::move(out.hidden_states[i]));
              hs = t;
            }
            if (attentions) {
              py::tuple t(out.attentions.size());
              for (size_t i = 0; i < out.attentions.size(); ++i)
                t[i] = ToNumpy(std::move(out.attentions[i]));
              at = t;
            }
            py::dict captured;
            for (auto& [name, t] : out.captured) captured[py::str(name)] = ToNumpy(std::move(t));
            return py::make_tuple(ToNumpy(std::move(out.logits)), hs, at,
                                  ToNumpy(std::move(out.position_ids)), captured);
          },
          py::arg("input_ids"), py::arg("attention_mask") = py::none(),
          py::arg("position_ids") = py::none(), py::arg("cache") = nullptr,
          py::arg("output_hidden_states") = false, py::arg("output_attentions") = false,
          py::arg("logits_to_keep") = 0, py::arg("inputs_embeds") = py::none(),
          py::arg("hooks") = nullptr, py::arg("capture") = std::vector<std::string>{})
      .def("embed",
           [](const talkie::Model& model, const py::array& ids) {
             auto c = py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(ids);
             if (!c) throw py::type_error("embed: ids must be an integer array");
             std::vector<int64_t> shape(c.shape(), c.shape() + c.ndim());
             talkie::Tensor<int32_t> t(shape, std::vector<int32_t>(c.data(), c.data() + c.size()));
             return ToNumpy(model.Embed(t));
           })
      .def(
          "unembed",
          [](const talkie::Model& model, const py::array& hidden, bool apply_final_norm) {
            auto c = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(hidden);
            if (!c) throw py::type_error("unembed: hidden must be a float array");
            std::vector<int64_t> shape(c.shape(), c.shape() + c.ndim());
            talkie::Tensor<float> h(shape, std::vector<float>(c.data(), c.data() + c.size()));
            talkie::Tensor<float> logits;
            {
              py::gil_scoped_release release;
              logits = model.Unembed(h, apply_final_norm);
            }
            return ToNumpy(std::move(logits));
          },
          py::arg("hidden"), py::arg("apply_final_norm") = true)
      .def(
          "score",
          [](const talkie::Model& model, const std::vector<int32_t>& ids, int64_t window,
             int64_t stride) {
            talkie::ScoreResult s;
            {
              py::gil_scoped_release release;
              s = model.Score(ids, window, stride);
            }
            return py::make_tuple(
                py::array_t<float>(s.token_logprobs.size(), s.token_logprobs.data()), s.mean_nll,
                s.perplexity);
          },
          py::arg("ids"), py::arg("window") = 0, py::arg("stride") = 0);

  py::class_<talkie::Tokenizer>(m, "Tokenizer")
      .def(py::init([](const std::string& path) { return talkie::Tokenizer::Load(path); }))
      .def_static(
          "for_model",
          [](const talkie::Model& model, const std::string& path) {
            return talkie::Tokenizer::ForModel(model, path);
          },
          py::arg("model"), py::arg("path") = "")
      .def(
          "encode",
          [](const talkie::Tokenizer& t, const std::string& text, bool allow_special) {
            return t.Encode(text, allow_special);
          },
          py::arg("text"), py::arg("allow_special") = false)
      .def("decode_bytes", [](const talkie::Tokenizer& t,
                              const std::vector<int32_t>& ids) { return py::bytes(t.Decode(ids)); })
      .def("token_bytes",
           [](const talkie::Tokenizer& t, int32_t id) { return py::bytes(t.TokenBytes(id)); })
      .def_property_readonly("is_chat", &talkie::Tokenizer::is_chat)
      .def_property_readonly("vocab_size", &talkie::Tokenizer::vocab_size)
      .def_property_readonly("special_tokens", &talkie::Tokenizer::special_tokens)
      .def_property_readonly("stop_token_ids", &talkie::Tokenizer::stop_token_ids)
      .def("render_chat",
           [](const talkie::Tokenizer& t,
              const std::vector<std::pair<std::string, std::string>>& messages,
              bool add_generation_prompt) {
             std::vector<talkie::ChatMessage> m;
             for (const auto& [role, content] : messages) m.push_back({role, content});
             return t.ApplyChatTemplate(m, add_generation_prompt);
           })
      .def("encode_chat", [](const talkie::Tokenizer& t,
                             const std::vector<std::pair<std::string, std::string>>& messages,
                             bool add_generation_prompt) {
        std::vector<talkie::ChatMessage> m;
        for (const auto& [role, content] : messages) m.push_back({role, content});
        return t.EncodeChat(m, add_generation_prompt);
      });

  m.def(
      "generate",
      [](const talkie::Model& model, const talkie::Tokenizer* tok,
         const std::vector<std::vector<int32_t>>& prompts, int64_t max_new_tokens,
         float temperature, int64_t top_k, float top_p, float min_p, float repetition_penalty,
         uint64_t seed, const std::vector<std::string>& stop_strings, bool ignore_eos,
         const py::object& on_text, const talkie::Hooks* hooks) {
        talkie::GenerateOptions o;
        o.hooks = hooks;
        o.max_new_tokens = max_new_tokens;
        o.sampling = {temperature, top_k, top_p, min_p, repetition_penalty, seed};
        o.stop_strings = stop_strings;
        if (ignore_eos) o.stop_token_ids = std::vector<int32_t>{};
        talkie::StreamCallback callback;
        if (!on_text.is_none()) {
          callback = [&on_text](size_t index, std::string_view piece) {
            py::gil_scoped_acquire acquire;
            const py::object keep = on_text(index, py::bytes(piece.data(), piece.size()));
            return keep.is_none() || keep.cast<bool>();
          };
        }
        std::vector<talkie::Generation> out;
        {
          py::gil_scoped_release release;
          out = tok ? talkie::Generate(model, *tok, prompts, {o}, callback)
                    : talkie::Generate(model, prompts, {o});
        }
        py::list results;
        for (const talkie::Generation& g : out)
          results.append(py::make_tuple(g.tokens, py::bytes(g.text),
                                        std::string(talkie::FinishReasonName(g.finish))));
        return results;
      },
      py::arg("model"), py::arg("tokenizer"), py::arg("prompts"), py::arg("max_new_tokens"),
      py::arg("temperature"), py::arg("top_k"), py::arg("top_p"), py::arg("min_p"),
      py::arg("repetition_penalty"), py::arg("seed"), py::arg("stop_strings"),
      py::arg("ignore_eos"), py::arg("on_text"), py::arg("hooks") = nullptr);

  py::class_<talkie::Hooks>(m, "Hooks")
      .def(py::init<>())
      .def(
          "add",
          [](talkie::Hooks& h, const std::string& name, py::object fn, bool read_only) {
            h.Add(name, PythonHook(std::move(fn)), read_only);
          },
          py::arg("name"), py::arg("fn"), py::arg("read_only") = false)
      .def(
          "add_vector",
          [](talkie::Hooks& h, const std::string& name, std::vector<float> v, float scale) {
            h.AddVector(name, std::move(v), scale);
          },
          py::arg("name"), py::arg("vector"), py::arg("scale") = 1.0f)
      .def(
          "project_out",
          [](talkie::Hooks& h, const std::string& name, std::vector<float> d) {
            h.ProjectOut(name, std::move(d));
          },
          py::arg("name"), py::arg("direction"))
      .def("add_control_vector", &talkie::Hooks::AddControlVector, py::arg("path"),
           py::arg("scale") = 1.0f, py::arg("first_block") = -1, py::arg("last_block") = -1)
      .def(
          "ablate_direction",
          [](talkie::Hooks& h, std::vector<float> d) { h.AblateDirection(std::move(d)); },
          py::arg("direction"))
      .def("empty", &talkie::Hooks::empty);
  m.def("hook_names", [](int64_t n_layer) {
    talkie::ModelConfig c;
    c.n_layer = n_layer;
    return talkie::Hooks::Names(c);
  });
}
