// libtalkie: the Talkie inference engine as a library. One include for all of it:
//
//   #include <talkie/talkie.h>
//
// engine.h    Engine (threads, precision policy), version, default model path
// model.h     Model (load, Forward, Score), KvCache, ForwardRequest/Result
// tokenizer.h Tokenizer (encode, decode, chat template, special tokens)
// generate.h  Generate (sampling, stops, streaming, cancellation, batches)
// scheduler.h Scheduler: continuous batching of requests from many threads
// tensor.h    Tensor<T>: the shaped arrays the API takes and returns
// tensor_file.h SaveTensorFile / LoadTensorFile: named tensors as safetensors
// convert.h   Quantize (q8 / q4), ExportGguf, WriteSyntheticModel, CompareLogits
// atomic_file.h AtomicFile, WriteFileAtomically: outputs never seen half-written
// error.h     Error: the exception every bad input raises
//
// docs/api.md walks through it with examples.
#pragma once

#include "talkie/atomic_file.h"
#include "talkie/convert.h"
#include "talkie/engine.h"
#include "talkie/error.h"
#include "talkie/generate.h"
#include "talkie/hooks.h"
#include "talkie/model.h"
#include "talkie/roofline.h"
#include "talkie/scheduler.h"
#include "talkie/steering.h"
#include "talkie/tensor.h"
#include "talkie/tensor_file.h"
#include "talkie/tokenizer.h"
