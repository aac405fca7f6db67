#include "gdal_loader_internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *library;
static char failure[512];

static void open_library(void) {
    // $WANGGE_GDAL_LIBRARY if set (a GDAL of the same release elsewhere);
    // else the development package's link (the library the headers came
    // from), then the soname of Debian 12's runtime package (libgdal32).
    const char *chosen = getenv("WANGGE_GDAL_LIBRARY");
    const char *const usual[] = {"libgdal.so", "libgdal.so.32"};
    const char *const *names = chosen && *chosen ? &chosen : usual;
    size_t count = chosen && *chosen ? 1 : sizeof usual / sizeof usual[0];
    for (size_t i = 0; i < count; i++) {
        library = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (library) return;
        const char *error = dlerror();
        if (i == 0) snprintf(failure, sizeof failure, "%s", error ? error : names[i]);
    }
}

const char *wangge_gdal_load(void) {
    if (pthread_once(&once, open_library) != 0) return "pthread_once failed";
    return library ? NULL : failure;
}

void *wangge_gdal_function(void **slot, const char *name) {
    void *function = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (function) return function;
    const char *why = wangge_gdal_load();
    if (why) {
        fprintf(stderr, "wangge: GDAL is needed for %s and cannot be loaded: %s\n", name, why);
        abort();
    }
    function = dlsym(library, name);
    if (!function) {
        const char *error = dlerror();
        fprintf(stderr, "wangge: libgdal has no %s: %s\n", name, error ? error : "not found");
        abort();
    }
    __atomic_store_n(slot, function, __ATOMIC_RELEASE);
    return function;
}
