#ifndef KITBAG_CLIBXML2_SHIM_H
#define KITBAG_CLIBXML2_SHIM_H
/* Debian builds libxml2 with ICU, whose headers clash with Foundation's own ICU module.
   Nothing here uses the ICU members of xmlCharEncodingHandler (only pointers to it), so drop them. */
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlwriter.h>
#include <libxml/parser.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/hash.h>
#include <libxml/entities.h>

/* `xmlFree` is a global function pointer (shared mutable state to Swift 6); call it through here. */
static inline void kitbag_xmlFree(void *p) { xmlFree(p); }

/* Number of entity declarations in a DTD (general + parameter), 0 when there is none. */
static inline int kitbag_dtdEntityCount(xmlDtdPtr dtd) {
    if (dtd == NULL) return 0;
    int n = 0;
    if (dtd->entities != NULL) n += xmlHashSize((xmlHashTablePtr)dtd->entities);
    if (dtd->pentities != NULL) n += xmlHashSize((xmlHashTablePtr)dtd->pentities);
    return n;
}
#endif
