// src/store/migrations.h — private: the ordered list of schema migrations.
// Append new steps at the end with the next version; never edit an applied one.
#pragma once

#include <vector>

namespace sskai::store {

struct Migration {
  int version;      // 1, 2, 3… in order
  const char* name;
  const char* sql;  // one or more statements, run in one transaction
};

const std::vector<Migration>& Migrations();

}  // namespace sskai::store
