/* codec/codec_dataset_info.h: the replies that describe stored datasets
 * (docs/training-jobs.md): a dataset's summary (series, points, channels,
 * time range, missing fraction, label), the list of them, and the answer
 * of a deletion. Decoding an upload is codec/codec_dataset.h.
 *
 * Writers append to the caller's jbuf; no state: thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_DATASET_INFO_H
#define ODESERVE_CODEC_CODEC_DATASET_INFO_H

#include "codec/jbuf.h"
#include "model/dataset.h"

#include <stddef.h>

void codec_dataset_info_encode(const dataset_info *in, jbuf *b);
/* {"datasets": [summary, ...]} */
void codec_dataset_info_list_encode(const dataset_info *list, size_t n, jbuf *b);
/* {"name", "deleted": true} */
void codec_dataset_info_deleted_encode(const char *name, jbuf *b);

#endif
