#ifndef WANGGE_GDAL_LOADER_H
#define WANGGE_GDAL_LOADER_H

/// Opens libgdal (once per process; later calls answer at once). NULL when
/// it is loaded, else why it could not be (dlerror's text, kept for the
/// process's life). wangge does not link libgdal: it is loaded only by the
/// commands that read or write vector files.
const char *wangge_gdal_load(void);

#endif
