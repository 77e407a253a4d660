/* gojson.c - Go's case-insensitive struct field matching. */
#include <strings.h>

#include "model/gojson.h"

json_t *gojson_get(json_t *obj, const char *name)
{
	const char *k;
	json_t *v, *found = NULL;

	if (!json_is_object(obj))
		return NULL;
	json_object_foreach(obj, k, v)
		if (strcasecmp(k, name) == 0)
			found = v;
	return found;
}
