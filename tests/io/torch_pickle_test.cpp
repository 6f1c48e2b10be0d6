// Tests for ReadTorchPickle: the accepted subset, the refusal of everything
// else (opcodes, globals), and bounds on hostile streams.
#include "io/io_test_util.h"
#include "io/tensor_store.h"

namespace talkie::io {
namespace {

using testing::Bytes;
using testing::ExpectError;
using testing::PickleBuilder;

std::vector<PickledTensor> Read(const std::string& bytes) {
  return ReadTorchPickle(Bytes(bytes), bytes.size(), "ckpt.pt:archive/data.pkl");
}

// {name: tensor} for one bf16 tensor of shape [2, 3].
PickleBuilder OneTensorDict(const std::string& name) {
  PickleBuilder p;
  p.Proto(2).Op('}').Str(name).Tensor("BFloat16Storage", "0", 6, 0, {2, 3}, {3, 1}).Op('s');
  return p;
}

TEST(TorchPickle, PlainDict) {
  const auto tensors = Read(OneTensorDict("w").Stop());
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0].name, "w");
  EXPECT_EQ(tensors[0].storage_key, "0");
  EXPECT_EQ(tensors[0].dtype, DType::kBF16);
  EXPECT_EQ(tensors[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(tensors[0].stride, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(tensors[0].storage_offset, 0);
}

TEST(TorchPickle, NestedUnderModelStateDictSkippingOtherValues) {
  PickleBuilder p;
  p.Proto(2).Op('}').Op('(');
  p.Str("epoch").Int(7);
  p.Str("lr").Raw(std::string("G\x3f\xb9\x99\x99\x99\x99\x99\x9a", 9));  // BINFLOAT 0.1
  p.Str("name").Raw(std::string("\x8c\x03run", 5));                      // SHORT_BINUNICODE
  p.Str("flags").Op(']').Op('N').Op('a').Raw("\x88\x89").Op('\x86').Op('a');
  p.Str("big").Raw(std::string("\x8a\x02\x00\xff", 4));  // LONG1 -256
  p.Str("model_state_dict").Global("collections", "OrderedDict").Op(')').Op('R').Op('(');
  p.Str("a").Tensor("HalfStorage", "3", 10, 4, {2, 3}, {3, 1});
  p.Str("skip").Int(-5);
  p.Str("b").Tensor("FloatStorage", "1", 1, 0, {}, {});
  p.Op('u');
  p.Global("collections", "OrderedDict").Op(')').Op('R');  // e.g. optimizer state
  p.Raw("b");                                              // BUILD the dict with state: ignored
  p.Op('u');
  // "optim" -> a dict that has a non-string key
  p.Str("optim").Op('}').Int(0).Op('N').Op('s').Op('s');
  const auto tensors = Read(p.Stop());
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[0].name, "a");
  EXPECT_EQ(tensors[0].dtype, DType::kF16);
  EXPECT_EQ(tensors[0].storage_offset, 4);
  EXPECT_EQ(tensors[0].storage_key, "3");
  EXPECT_EQ(tensors[1].name, "b");
  EXPECT_EQ(tensors[1].dtype, DType::kF32);
  EXPECT_TRUE(tensors[1].shape.empty());
}

TEST(TorchPickle, Protocol4OpcodesAndParameter) {
  // FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL, _rebuild_parameter.
  PickleBuilder p;
  p.Proto(4).Raw(std::string("\x95\x10\x00\x00\x00\x00\x00\x00\x00", 9)).Op('}').Op('\x94');
  p.Raw(std::string("\x8c\x01w\x94", 4));
  p.Raw(std::string("\x8c\x0ctorch._utils\x94\x8c\x12_rebuild_parameter\x94\x93\x94", 37));
  p.Op('(').Tensor("ByteStorage", "k", 4, 0, {4}, {1}).Op('\x88');
  p.Global("collections", "OrderedDict").Op(')').Op('R').Op('t').Op('R').Op('s');
  const auto tensors = Read(p.Stop());
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0].name, "w");
  EXPECT_EQ(tensors[0].dtype, DType::kU8);
  EXPECT_EQ(tensors[0].storage_key, "k");
}

TEST(TorchPickle, RepeatedKeyReplacesValue) {
  PickleBuilder p = OneTensorDict("w");
  p.Str("w").Int(1).Op('s');
  EXPECT_TRUE(Read(p.Stop()).empty());
}

TEST(TorchPickleMalformed, Truncated) {
  const std::string full = OneTensorDict("w").Stop();
  for (size_t len = 0; len < full.size(); ++len) {
    EXPECT_THROW(Read(full.substr(0, len)), Error) << len;
  }
  ExpectError([&] { Read(full.substr(0, 20)); }, {"ckpt.pt:archive/data.pkl", "truncated"});
}

TEST(TorchPickleMalformed, LyingStringLength) {
  ExpectError([] { Read(std::string("\x80\x02X\xff\xff\xff\xff", 7)); },
              {"truncated", "4294967295"});
  ExpectError([] { Read(std::string("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff", 11)); },
              {"truncated"});
  ExpectError([] { Read(std::string("\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00", 11)); },
              {"FRAME"});
}

TEST(TorchPickleMalformed, OpcodeOutsideSubset) {
  ExpectError([] { Read(std::string("\x80\x02}\x81.", 5)); },
              {"unsupported opcode 0x81", "offset 3"});
  ExpectError([] { Read("\x80\x02(I1\n."); }, {"unsupported opcode 0x49", "offset 3"});
  ExpectError([] { Read("\x80\x01."); }, {"protocol 1"});
}

TEST(TorchPickleMalformed, DisallowedGlobal) {
  PickleBuilder p;
  p.Proto(2).Global("os", "system").Str("echo hi").Op('\x85').Op('R');
  ExpectError([&] { Read(p.Stop()); }, {"ckpt.pt", "global 'os.system' is not allowed"});
  ExpectError([&] { Read(PickleBuilder().Proto(4).Str("builtins").Str("eval").Op('\x93').Stop()); },
              {"global 'builtins.eval' is not allowed"});
  ExpectError(
      [&] { Read(PickleBuilder().Proto(2).Global("torch.storage", "_load_from_bytes").Stop()); },
      {"'torch.storage._load_from_bytes'"});
  ExpectError(
      [&] {
        Read(
            std::string("\x80\x02"
                        "cos\nsystem",
                        12));
      },
      {"newline"});
}

TEST(TorchPickleMalformed, MemoGetOfUnknownIndex) {
  ExpectError([] { Read(PickleBuilder().Proto(2).Op('}').Put(0).Get(7).Stop()); },
              {"memo index 7 was never stored", "offset 5"});
  ExpectError([] { Read(std::string("\x80\x02j\x10\x27\x00\x00.", 8)); }, {"memo index 10000"});
}

TEST(TorchPickleMalformed, StackUnderflow) {
  ExpectError([] { Read(PickleBuilder().Proto(2).Op('s').Stop()); },
              {"stack underflow", "offset 2"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Op('.').Stop()); }, {"stack underflow"});
  // Items below a MARK are out of reach until the MARK is popped.
  ExpectError([] { Read(PickleBuilder().Proto(2).Op('}').Op('(').Str("k").Op('s').Stop()); },
              {"stack underflow"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Op('t').Stop()); }, {"no MARK"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Op('q').Raw(std::string(1, '\0')).Stop()); },
              {"stack underflow"});
}

TEST(TorchPickleMalformed, WrongShapes) {
  ExpectError([] { Read(PickleBuilder().Proto(2).Op(']').Stop()); }, {"not a dict"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Op(']').Str("k").Int(1).Op('s').Stop()); },
              {"SETITEM(S) on a value that is not a dict"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Op('}').Int(1).Op('a').Stop()); }, {"APPEND"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Op('}').Op('(').Int(1).Op('u').Stop()); },
              {"odd"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Int(1).Op(')').Op('R').Stop()); },
              {"not a global"});
  ExpectError(
      [] { Read(PickleBuilder().Proto(2).Global("torch", "FloatStorage").Op(')').Op('R').Stop()); },
      {"storage type"});
  ExpectError(
      [] {
        Read(PickleBuilder()
                 .Proto(2)
                 .Global("collections", "OrderedDict")
                 .Int(1)
                 .Op('\x85')
                 .Op('R')
                 .Stop());
      },
      {"OrderedDict called with arguments"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Int(3).Op('N').Op('b').Stop()); }, {"BUILD"});
  ExpectError([] { Read(PickleBuilder().Proto(2).Str("x").Op('Q').Stop()); }, {"persistent id"});
  ExpectError(
      [] {
        Read(PickleBuilder()
                 .Proto(2)
                 .Op('(')
                 .Str("storage")
                 .Global("collections", "OrderedDict")
                 .Str("0")
                 .Str("cpu")
                 .Int(1)
                 .Op('t')
                 .Op('Q')
                 .Stop());
      },
      {"torch.*Storage"});
  // _rebuild_tensor_v2 with a bad argument list.
  ExpectError(
      [] {
        Read(PickleBuilder()
                 .Proto(2)
                 .Global("torch._utils", "_rebuild_tensor_v2")
                 .Int(1)
                 .Op('\x85')
                 .Op('R')
                 .Stop());
      },
      {"6 or 7 arguments"});
  // Negative size.
  PickleBuilder p;
  p.Proto(2).Op('}').Str("w").Tensor("FloatStorage", "0", 4, 0, {-2}, {1}).Op('s');
  ExpectError([&] { Read(p.Stop()); }, {"size has a negative entry"});
  PickleBuilder q;
  q.Proto(2).Op('}').Str("w").Tensor("FloatStorage", "0", 4, 0, {2, 2}, {1}).Op('s');
  ExpectError([&] { Read(q.Stop()); }, {"differ in length"});
  ExpectError(
      [] {
        Read(
            std::string("\x80\x02\x8a\x09"
                        "123456789.",
                        14));
      },
      {"LONG1"});
}

TEST(TorchPickleMalformed, SelfReferenceDoesNotHangOrLeak) {
  // l = []; l.append(l); d = {}; d['l'] = l; d['d'] = d
  PickleBuilder p;
  p.Proto(2).Op('}').Put(0).Str("l").Op(']').Put(1).Get(1).Op('a').Op('s');
  p.Str("d").Get(0).Op('s');
  EXPECT_TRUE(Read(p.Stop()).empty());
}

TEST(TorchPickleCorruption, FixturePickleEveryByte) {
  // The fixture's data.pkl, located through the zip reader, flipped at
  // every byte and truncated at every length: succeed or throw Error.
  const std::string image =
      testing::ReadFileBytes(testing::DataPath("model/models/tiny-raw/rl-refined.pt"));
  const auto entries = ParseZipDirectory(Bytes(image), image.size(), "fixture");
  const std::string pkl = image.substr(entries[0].data_offset, entries[0].size);
  ASSERT_EQ(Read(pkl).size(), 36u);
  for (size_t i = 0; i < pkl.size(); ++i) {
    for (uint8_t mask : {0x01, 0x10, 0xff}) {
      std::string bytes = pkl;
      bytes[i] = static_cast<char>(bytes[i] ^ mask);
      try {
        Read(bytes);
      } catch (const Error&) {
      }
    }
    EXPECT_THROW(Read(pkl.substr(0, i)), Error);
  }
}

}  // namespace
}  // namespace talkie::io
