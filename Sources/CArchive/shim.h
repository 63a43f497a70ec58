#ifndef KITBAG_CARCHIVE_SHIM_H
#define KITBAG_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#endif
