/* codec/codec_dataset_export.h: a stored dataset's series back as JSON, in
 * the form an upload takes ({"t": [...], "y": [[...]], "label": ...}, null
 * for a missing value; a point set's rows), for GET
 * /v1/datasets/{name}/series.
 *
 * Plain functions of their arguments; thread-safe. */
#ifndef ODESERVE_CODEC_DATASET_EXPORT_H
#define ODESERVE_CODEC_DATASET_EXPORT_H

#include <stddef.h>

#include "codec/jbuf.h"
#include "model/dataset.h"

/* {"name", "kind": "series", "total", "offset", "series": [series offset
 * .. offset+limit)}: `total` is the dataset's series count; for a point set
 * {"name", "kind": "points", "total", "offset", "points": [rows]}, `total`
 * its points. An offset past the end gives an empty list. */
void codec_dataset_series_encode(const char *name, const dataset *d, size_t offset, size_t limit,
                                 jbuf *b);

#endif
