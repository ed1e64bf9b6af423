// PDA_API marks what libpda exports: the library is built with hidden visibility, so only the public
// API of include/pda/ is visible to a program that links it.
#pragma once

#define PDA_API __attribute__((visibility("default")))
