// src/ml/number_rows.h — the fast path of predict bodies that are plain numeric rows (internal to the
// ml module; no torch).
//
// A predict body of image or feature rows is mostly numbers: a CNN row is 784 of them. Parsing it
// into a JSON document allocates a node per number, which cost the replica about a quarter of its
// time per request. ParseNumberRows reads exactly the common shapes straight into floats and
// declines everything else, so the caller's general JSON path (and its error messages) still
// answers every other body, valid or not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace sskai::ml {

// The numbers of `body` when it is a JSON array of rows — each row an array of numbers, nested
// arrays flattened, exactly `width` numbers per row — or one flat array of exactly `width` numbers
// (one row), either alone or as the value of the only key of an object whose key is "instances",
// "inputs" or "rows". Values are read as doubles and rounded to float (as the general path does).
// nullopt for any other body: other keys or shapes, strings, booleans or null, a row of another
// size, no rows, integers of more than 15 digits, numbers out of double range, nesting deeper than
// 8, trailing text, anything that is not strict JSON. On success *rows is the number of rows.
// Thread-safety: pure function.
std::optional<std::vector<float>> ParseNumberRows(std::string_view body, size_t width, int64_t* rows);

}  // namespace sskai::ml
