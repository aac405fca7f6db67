#include <sqlite3.h>
#include <spatialite/gaiaconfig.h>

// Enables extension loading on one connection, loads mod_spatialite into it,
// and disables loading again so that SQL cannot load other extensions.
// Returns SQLITE_OK or an error code; *error receives SQLite's message
// (free it with sqlite3_free).
static inline int wangge_load_spatialite(sqlite3 *db, char **error) {
    int rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, (int *)0);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_load_extension(db, "mod_spatialite", (const char *)0, error);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)0);
    return rc;
}

static inline const char *wangge_spatialite_build_version(void) {
    return SPATIALITE_VERSION;
}

// SQLite counts its allocations by default, under a process-wide mutex taken on
// every malloc and free; nothing here reads the counts. Only possible before
// SQLite initializes (SQLITE_MISUSE after): sqlite3_config is variadic, so Swift
// cannot call it directly.
static inline int wangge_sqlite_stop_counting_memory(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
