#ifndef KITBAG_CLIBXML2_SHIM_H
#define KITBAG_CLIBXML2_SHIM_H
#include <libxml/xmlwriter.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#endif
