// talkie::Tensor<T>: a dense row-major array with an explicit shape, the one
// container the API takes and returns ([batch, seq] ids, [batch, seq, vocab]
// logits, ...). It owns its data (a std::vector) and checks that shape and data
// agree; element access by index is bounds-checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "talkie/error.h"

namespace talkie {

template <typename T>
class Tensor {
 public:
  Tensor() = default;
  // A tensor of `shape` filled with `fill`.
  explicit Tensor(std::vector<int64_t> shape, T fill = T{})
      : shape_(std::move(shape)), data_(CheckedSize(shape_), fill) {}
  // Takes `data` (row-major) as a tensor of `shape`; sizes must agree.
  Tensor(std::vector<int64_t> shape, std::vector<T> data)
      : shape_(std::move(shape)), data_(std::move(data)) {
    Check(data_.size() == CheckedSize(shape_),
          "tensor: shape " + ShapeString(shape_) + " needs " + std::to_string(CheckedSize(shape_)) +
              " elements, got " + std::to_string(data_.size()));
  }
  // Rows of equal length as a [rows.size(), row length] tensor.
  static Tensor FromRows(const std::vector<std::vector<T>>& rows) {
    const size_t cols = rows.empty() ? 0 : rows[0].size();
    std::vector<T> data;
    data.reserve(rows.size() * cols);
    for (size_t i = 0; i < rows.size(); ++i) {
      Check(rows[i].size() == cols, "tensor: row " + std::to_string(i) + " has " +
                                        std::to_string(rows[i].size()) + " elements, row 0 has " +
                                        std::to_string(cols));
      data.insert(data.end(), rows[i].begin(), rows[i].end());
    }
    return Tensor({static_cast<int64_t>(rows.size()), static_cast<int64_t>(cols)}, std::move(data));
  }

  const std::vector<int64_t>& shape() const { return shape_; }
  size_t ndim() const { return shape_.size(); }
  // Size of dimension i (bounds-checked).
  int64_t dim(size_t i) const {
    Check(i < shape_.size(), "tensor: dimension " + std::to_string(i) + " of a " +
                                 std::to_string(shape_.size()) + "-d tensor");
    return shape_[i];
  }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }

  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  const std::vector<T>& values() const { return data_; }
  std::vector<T> TakeValues() && { return std::move(data_); }

  // Element at a full index, e.g. logits.at({b, s, v}).
  T& at(std::initializer_list<int64_t> index) { return data_[Offset(index)]; }
  const T& at(std::initializer_list<int64_t> index) const { return data_[Offset(index)]; }

  static std::string ShapeString(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

 private:
  static size_t CheckedSize(const std::vector<int64_t>& shape) {
    size_t n = 1;
    for (int64_t d : shape) {
      Check(d >= 0, "tensor: negative dimension in shape " + ShapeString(shape));
      Check(d == 0 || n <= SIZE_MAX / static_cast<size_t>(d),
            "tensor: shape " + ShapeString(shape) + " is too large");
      n *= static_cast<size_t>(d);
    }
    return n;
  }
  size_t Offset(std::initializer_list<int64_t> index) const {
    Check(index.size() == shape_.size(), "tensor: " + std::to_string(index.size()) +
                                             " indices for a " + std::to_string(shape_.size()) +
                                             "-d tensor");
    size_t offset = 0, d = 0;
    for (int64_t i : index) {
      Check(i >= 0 && i < shape_[d], "tensor: index " + std::to_string(i) +
                                         " out of range for dimension " + std::to_string(d) +
                                         " of shape " + ShapeString(shape_));
      offset = offset * static_cast<size_t>(shape_[d]) + static_cast<size_t>(i);
      ++d;
    }
    return offset;
  }

  std::vector<int64_t> shape_;
  std::vector<T> data_;
};

}  // namespace talkie
