// A restricted pickle interpreter for the data.pkl stream of torch.save.
// It understands only the opcodes and globals that saving (nested) dicts of
// tensors produces and executes nothing: globals become opaque markers, and
// REDUCE / BINPERSID are interpreted for those markers alone. The accepted
// subset is listed in docs/io.md.
#include <cstring>
#include <map>
#include <memory>

#include "common/error.h"
#include "io/tensor_store.h"

namespace talkie::io {

namespace {

enum class Kind {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kTuple,
  kList,
  kDict,
  kGlobal,
  kStorage,
  kTensor
};

enum class Global { kOrderedDict, kRebuildTensorV2, kRebuildParameter, kStorageType };

// One unpickled value. Objects live in an arena owned by the reader and
// refer to each other by raw pointer, so self-referencing containers built
// by a hostile stream cannot leak or recurse. Kept small: a stream of
// one-byte opcodes makes one object per byte.
struct Object {
  Kind kind = Kind::kNone;
  Global global = Global::kOrderedDict;  // kGlobal
  DType dtype = DType::kF32;             // kGlobal storage type, kStorage
  int64_t int_value = 0;                 // kInt, kBool; kStorage: numel
  double float_value = 0;                // kFloat
  std::string str;                       // kString; kStorage: key
  std::vector<Object*> items;            // kTuple, kList; kDict: keys
  struct Dict {
    std::vector<Object*> values;                // parallel to items
    std::map<std::string, size_t> string_keys;  // string key -> index
  };
  std::unique_ptr<Dict> dict;             // kDict
  std::unique_ptr<PickledTensor> tensor;  // kTensor
};

// Bounds memory for hostile streams (~100 bytes per object); a state dict
// needs about 20 objects per tensor.
constexpr size_t kMaxObjects = size_t{1} << 24;

struct AllowedGlobal {
  const char* module;
  const char* name;
  Global global;
  DType dtype;
};
constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections", "OrderedDict", Global::kOrderedDict, DType::kF32},
    {"torch._utils", "_rebuild_tensor_v2", Global::kRebuildTensorV2, DType::kF32},
    {"torch._utils", "_rebuild_parameter", Global::kRebuildParameter, DType::kF32},
    {"torch", "BFloat16Storage", Global::kStorageType, DType::kBF16},
    {"torch", "HalfStorage", Global::kStorageType, DType::kF16},
    {"torch", "FloatStorage", Global::kStorageType, DType::kF32},
    {"torch", "DoubleStorage", Global::kStorageType, DType::kF64},
    {"torch", "LongStorage", Global::kStorageType, DType::kI64},
    {"torch", "IntStorage", Global::kStorageType, DType::kI32},
    {"torch", "ShortStorage", Global::kStorageType, DType::kI16},
    {"torch", "CharStorage", Global::kStorageType, DType::kI8},
    {"torch", "ByteStorage", Global::kStorageType, DType::kU8},
    {"torch", "BoolStorage", Global::kStorageType, DType::kBool},
};

class Unpickler {
 public:
  Unpickler(const std::byte* data, size_t size, const std::string& origin)
      : data_(data), size_(size), origin_(origin) {}

  Object* Run();

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw Error(origin_ + ": pickle: " + what + " (opcode at offset " + std::to_string(op_pos_) +
                ")");
  }

  // Reads n raw bytes; fails (never reads past the end) when fewer remain.
  const std::byte* Take(uint64_t n) {
    if (n > size_ - pos_) Fail("truncated: needs " + std::to_string(n) + " more bytes");
    const std::byte* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  uint64_t TakeLe(int n) {
    const std::byte* p = Take(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
  }
  std::string TakeString(uint64_t n) {
    const std::byte* p = Take(n);
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }
  // A '\n'-terminated line (GLOBAL operands).
  std::string TakeLine() {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (nl == nullptr) Fail("truncated: GLOBAL operand without newline");
    const size_t len = static_cast<const std::byte*>(nl) - (data_ + pos_);
    std::string s = TakeString(len);
    pos_ += 1;
    return s;
  }

  Object* New(Kind kind) {
    if (arena_.size() >= kMaxObjects) Fail("more than " + std::to_string(kMaxObjects) + " objects");
    arena_.push_back(std::make_unique<Object>());
    Object* o = arena_.back().get();
    o->kind = kind;
    if (kind == Kind::kDict) o->dict = std::make_unique<Object::Dict>();
    if (kind == Kind::kTensor) o->tensor = std::make_unique<PickledTensor>();
    return o;
  }
  Object* NewInt(int64_t v, Kind kind = Kind::kInt) {
    Object* o = New(kind);
    o->int_value = v;
    return o;
  }
  Object* NewString(std::string s) {
    Object* o = New(Kind::kString);
    o->str = std::move(s);
    return o;
  }

  void Push(Object* o) { stack_.push_back(o); }
  // The stack above the innermost MARK is all an opcode may consume.
  size_t Fence() const { return marks_.empty() ? 0 : marks_.back(); }
  Object* Pop() {
    if (stack_.size() <= Fence()) Fail("stack underflow");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object* Top() {
    if (stack_.size() <= Fence()) Fail("stack underflow");
    return stack_.back();
  }
  // Pops everything down to the innermost MARK, and the MARK itself.
  std::vector<Object*> PopMark() {
    if (marks_.empty()) Fail("no MARK on the stack");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  Object* MakeTuple(std::vector<Object*> items) {
    Object* t = New(Kind::kTuple);
    t->items = std::move(items);
    return t;
  }

  void Memoize(uint64_t index, Object* o) { memo_[index] = o; }
  Object* Recall(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) Fail("memo index " + std::to_string(index) + " was never stored");
    return it->second;
  }

  void SetItem(Object* dict, Object* key, Object* value) {
    if (dict->kind != Kind::kDict) Fail("SETITEM(S) on a value that is not a dict");
    if (key->kind == Kind::kString) {
      auto [it, inserted] = dict->dict->string_keys.emplace(key->str, dict->items.size());
      if (!inserted) {  // Python semantics: a repeated key replaces the value
        dict->dict->values[it->second] = value;
        return;
      }
    }
    dict->items.push_back(key);
    dict->dict->values.push_back(value);
  }
  void Append(Object* list, Object* value) {
    if (list->kind != Kind::kList) Fail("APPEND(S) on a value that is not a list");
    list->items.push_back(value);
  }

  Object* MakeGlobal(const std::string& module, const std::string& name);
  Object* PersistentLoad(Object* pid);
  Object* Reduce(Object* callable, Object* args);
  int64_t AsInt(const Object* o, const char* what) {
    if (o->kind != Kind::kInt) Fail(std::string(what) + " is not an integer");
    return o->int_value;
  }
  std::vector<int64_t> AsIntTuple(const Object* o, const char* what) {
    if (o->kind != Kind::kTuple) Fail(std::string(what) + " is not a tuple");
    std::vector<int64_t> v;
    for (const Object* item : o->items) {
      const int64_t x = AsInt(item, what);
      if (x < 0) Fail(std::string(what) + " has a negative entry");
      v.push_back(x);
    }
    return v;
  }

  const std::byte* data_;
  size_t size_;
  const std::string& origin_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::vector<std::unique_ptr<Object>> arena_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, Object*> memo_;
};

Object* Unpickler::MakeGlobal(const std::string& module, const std::string& name) {
  for (const AllowedGlobal& g : kAllowedGlobals) {
    if (module == g.module && name == g.name) {
      Object* o = New(Kind::kGlobal);
      o->global = g.global;
      o->dtype = g.dtype;
      return o;
    }
  }
  Fail("global '" + module + "." + name + "' is not allowed");
}

// ('storage', <storage type>, key, location, numel) -> a storage reference.
Object* Unpickler::PersistentLoad(Object* pid) {
  if (pid->kind != Kind::kTuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::kString ||
      pid->items[0]->str != "storage") {
    Fail("persistent id is not a ('storage', type, key, location, numel) tuple");
  }
  const Object* type = pid->items[1];
  if (type->kind != Kind::kGlobal || type->global != Global::kStorageType) {
    Fail("persistent id storage type is not a torch.*Storage");
  }
  if (pid->items[2]->kind != Kind::kString || pid->items[2]->str.empty()) {
    Fail("persistent id storage key is not a non-empty string");
  }
  if (pid->items[3]->kind != Kind::kString) Fail("persistent id location is not a string");
  const int64_t numel = AsInt(pid->items[4], "persistent id numel");
  if (numel < 0) Fail("persistent id numel is negative");
  Object* s = New(Kind::kStorage);
  s->str = pid->items[2]->str;
  s->dtype = type->dtype;
  s->int_value = numel;
  return s;
}

Object* Unpickler::Reduce(Object* callable, Object* args) {
  if (callable->kind != Kind::kGlobal) Fail("REDUCE of a value that is not a global");
  if (args->kind != Kind::kTuple) Fail("REDUCE arguments are not a tuple");
  const std::vector<Object*>& a = args->items;
  switch (callable->global) {
    case Global::kOrderedDict:
      if (!a.empty()) Fail("collections.OrderedDict called with arguments");
      return New(Kind::kDict);
    case Global::kRebuildTensorV2: {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() != 6 && a.size() != 7) Fail("_rebuild_tensor_v2 expects 6 or 7 arguments");
      if (a[0]->kind != Kind::kStorage) Fail("_rebuild_tensor_v2 storage is not a storage");
      Object* o = New(Kind::kTensor);
      PickledTensor& t = *o->tensor;
      t.storage_key = a[0]->str;
      t.dtype = a[0]->dtype;
      t.storage_offset = AsInt(a[1], "_rebuild_tensor_v2 storage_offset");
      if (t.storage_offset < 0) Fail("_rebuild_tensor_v2 storage_offset is negative");
      t.shape = AsIntTuple(a[2], "_rebuild_tensor_v2 size");
      t.stride = AsIntTuple(a[3], "_rebuild_tensor_v2 stride");
      if (t.shape.size() != t.stride.size()) {
        Fail("_rebuild_tensor_v2 size and stride differ in length");
      }
      return o;
    }
    case Global::kRebuildParameter:
      // (tensor, requires_grad, backward_hooks): a Parameter is its tensor.
      if (a.size() != 3 || a[0]->kind != Kind::kTensor) {
        Fail("_rebuild_parameter expects (tensor, requires_grad, backward_hooks)");
      }
      return a[0];
    case Global::kStorageType:
      break;
  }
  Fail("REDUCE of a storage type");
}

Object* Unpickler::Run() {
  while (true) {
    op_pos_ = pos_;
    const uint8_t op = static_cast<uint8_t>(*Take(1));
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t proto = TakeLe(1);
        if (proto < 2 || proto > 5) Fail("unsupported protocol " + std::to_string(proto));
        break;
      }
      case 0x95: {  // FRAME: a length prefix only; the bytes follow inline.
        const uint64_t len = TakeLe(8);
        if (len > size_ - pos_) Fail("FRAME of " + std::to_string(len) + " bytes past the end");
        break;
      }
      case '.':  // STOP
        return Pop();
      case '}':
        Push(New(Kind::kDict));
        break;  // EMPTY_DICT
      case ']':
        Push(New(Kind::kList));
        break;  // EMPTY_LIST
      case ')':
        Push(MakeTuple({}));
        break;  // EMPTY_TUPLE
      case '(':
        marks_.push_back(stack_.size());
        break;  // MARK
      case 't':
        Push(MakeTuple(PopMark()));
        break;      // TUPLE
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        std::vector<Object*> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = Pop();
        Push(MakeTuple(std::move(items)));
        break;
      }
      case 's': {  // SETITEM
        Object* value = Pop();
        Object* key = Pop();
        SetItem(Top(), key, value);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Object*> items = PopMark();
        if (items.size() % 2) Fail("SETITEMS with an odd number of items");
        Object* dict = Top();
        for (size_t i = 0; i < items.size(); i += 2) SetItem(dict, items[i], items[i + 1]);
        break;
      }
      case 'a': {  // APPEND
        Object* value = Pop();
        Append(Top(), value);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Object*> items = PopMark();
        Object* list = Top();
        for (Object* item : items) Append(list, item);
        break;
      }
      case 'X':
        Push(NewString(TakeString(TakeLe(4))));
        break;  // BINUNICODE
      case 0x8c:
        Push(NewString(TakeString(TakeLe(1))));
        break;  // SHORT_BINUNICODE
      case 0x8d:
        Push(NewString(TakeString(TakeLe(8))));
        break;  // BINUNICODE8
      case 'U':
        Push(NewString(TakeString(TakeLe(1))));
        break;  // SHORT_BINSTRING
      case 'T':
        Push(NewString(TakeString(TakeLe(4))));
        break;  // BINSTRING
      case 'C':
        Push(NewString(TakeString(TakeLe(1))));
        break;  // SHORT_BINBYTES
      case 'B':
        Push(NewString(TakeString(TakeLe(4))));
        break;  // BINBYTES
      case 'J':
        Push(NewInt(static_cast<int32_t>(TakeLe(4))));
        break;  // BININT
      case 'K':
        Push(NewInt(static_cast<int64_t>(TakeLe(1))));
        break;  // BININT1
      case 'M':
        Push(NewInt(static_cast<int64_t>(TakeLe(2))));
        break;      // BININT2
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        const uint64_t n = TakeLe(1);
        if (n > 8) Fail("LONG1 of " + std::to_string(n) + " bytes does not fit in 64 bits");
        uint64_t v = n ? TakeLe(static_cast<int>(n)) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign
        Push(NewInt(static_cast<int64_t>(v)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const std::byte* p = Take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(p[i]);
        Object* o = New(Kind::kFloat);
        std::memcpy(&o->float_value, &bits, sizeof bits);
        Push(o);
        break;
      }
      case 'N':
        Push(New(Kind::kNone));
        break;  // NONE
      case 0x88:
        Push(NewInt(1, Kind::kBool));
        break;  // NEWTRUE
      case 0x89:
        Push(NewInt(0, Kind::kBool));
        break;  // NEWFALSE
      case 'q':
        Memoize(TakeLe(1), Top());
        break;  // BINPUT
      case 'r':
        Memoize(TakeLe(4), Top());
        break;  // LONG_BINPUT
      case 0x94:
        Memoize(memo_.size(), Top());
        break;  // MEMOIZE
      case 'h':
        Push(Recall(TakeLe(1)));
        break;  // BINGET
      case 'j':
        Push(Recall(TakeLe(4)));
        break;     // LONG_BINGET
      case 'c': {  // GLOBAL
        std::string module = TakeLine();
        std::string name = TakeLine();
        Push(MakeGlobal(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Object* name = Pop();
        Object* module = Pop();
        if (module->kind != Kind::kString || name->kind != Kind::kString) {
          Fail("STACK_GLOBAL operands are not strings");
        }
        Push(MakeGlobal(module->str, name->str));
        break;
      }
      case 'R': {  // REDUCE
        Object* args = Pop();
        Object* callable = Pop();
        Push(Reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD: only the state torch attaches to dicts / tensors
        Pop();     // the state (e.g. an OrderedDict's _metadata); not needed
        const Kind target = Top()->kind;
        if (target != Kind::kDict && target != Kind::kTensor) {
          Fail("BUILD on a value that is not a dict or tensor");
        }
        break;
      }
      case 'Q':  // BINPERSID
        Push(PersistentLoad(Pop()));
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        Fail(std::string("unsupported opcode 0x") + kHex[op >> 4] + kHex[op & 15]);
      }
    }
  }
}

}  // namespace

std::vector<PickledTensor> ReadTorchPickle(const std::byte* data, size_t size,
                                           const std::string& origin) {
  Unpickler unpickler(data, size, origin);
  const Object* root = unpickler.Run();
  Check(root->kind == Kind::kDict, origin + ": pickle: the checkpoint is not a dict");

  // A training checkpoint nests the weights under "model" or "model_state_dict".
  const Object* dict = root;
  for (const char* key : {"model", "model_state_dict"}) {
    auto it = root->dict->string_keys.find(key);
    if (it != root->dict->string_keys.end() &&
        root->dict->values[it->second]->kind == Kind::kDict) {
      dict = root->dict->values[it->second];
      break;
    }
  }

  std::vector<PickledTensor> tensors;
  for (size_t i = 0; i < dict->items.size(); ++i) {
    const Object* key = dict->items[i];
    const Object* value = dict->dict->values[i];
    if (key->kind != Kind::kString || value->kind != Kind::kTensor) continue;
    PickledTensor t = *value->tensor;
    t.name = key->str;
    tensors.push_back(std::move(t));
  }
  return tensors;
}

}  // namespace talkie::io
