/* gojson.h - reading JSON the way Go's encoding/json does. */
#ifndef FLANNEL_GOJSON_H
#define FLANNEL_GOJSON_H

#include <jansson.h>

/* Object member matched without regard to case; the last match wins. */
json_t *gojson_get(json_t *obj, const char *name);

#endif
