#include <string.h>

#include "ms_path.h"

int ms_path_is_remote(const char *dest)
{
    return strncmp(dest, "rsync://", 8) == 0 || dest[strcspn(dest, ":/")] == ':';
}
