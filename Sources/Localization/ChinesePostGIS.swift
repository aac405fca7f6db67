/// PostgreSQL + PostGIS: the server database of a city or province centre, its standby and its failures.
let chinesePostGIS: [String: String] = [
    "The database: a SpatiaLite file, or postgresql://USER@HOST:PORT/DBNAME for PostGIS (default: `database` in the config file).":
        "数据库：SpatiaLite 文件，或 PostGIS 数据库 postgresql://用户@主机:端口/库名（默认：配置文件中的 `database`）。",
    "Serve the query API, OGC API - Features and the web map over the database, SpatiaLite or PostGIS (Hummingbird).":
        "基于数据库（SpatiaLite 或 PostGIS）提供查询 API、OGC API - Features 和网页地图服务（Hummingbird）。",
    "A hot standby of the PostgreSQL database for reads (default: `read_database` in the config file); writes, and reads that must see this server's own writes, go to --db.":
        "用于读取的 PostgreSQL 热备库（默认：配置文件中的 `read_database`）；写入以及必须读到本服务器刚写入内容的读取仍走 --db。",
    "{1}: a read database is a standby of a PostgreSQL database; {2} is a SpatiaLite file": "{1}：只读库应是 PostgreSQL 数据库的备库，而 {2} 是 SpatiaLite 文件",
    // The configuration stored in the database (`wangge config push|show|clear`).
    "Store a configuration in the database for every server on it, show it or clear it.": "将配置存入数据库供其上所有服务器使用，或显示、清除该配置。",
    "A configuration stored in the database overrides every section of each process's own file but `database` and `read_database` (each keeps the database it opened). PostGIS servers apply a change within a second (NOTIFY), SpatiaLite servers within 5 s; without one, each follows its file.":
        "存入数据库的配置覆盖各进程自身配置文件中除 `database` 和 `read_database` 以外的所有部分（各进程仍使用自己打开的数据库）。PostGIS 服务器在 1 秒内应用变更（NOTIFY），SpatiaLite 服务器在 5 秒内；未存配置时各自遵循自己的文件。",
    "Check the configuration file (--config) as every command reads it and store it in the database as the next version; a file with an error stores nothing.":
        "按各命令读取配置的方式检查配置文件（--config），并作为下一版本存入数据库；文件有错误时不存入任何内容。",
    "configuration version {1} stored ({2}): every server on this database follows it instead of its own file": "配置第 {1} 版已存入（{2}）：此数据库上的所有服务器改用该配置，不再使用各自的文件",
    "Print the configuration stored in the database, with its version and time, or say that none is.": "显示数据库中存储的配置及其版本和时间，未存储时予以说明。",
    "no configuration is stored in this database: every process follows its own file": "此数据库未存储配置：各进程遵循各自的配置文件",
    "# configuration version {1}, stored {2}": "# 配置第 {1} 版，存入于 {2}",
    "Remove the configuration stored in the database: every server follows its own file again.": "清除数据库中存储的配置：各服务器重新遵循各自的配置文件。",
    "no configuration is stored in this database; nothing to clear": "此数据库未存储配置，无需清除",
    "configuration cleared (version {1}): every server on this database follows its own file again": "配置已清除（第 {1} 版）：此数据库上的所有服务器重新遵循各自的配置文件",
    "the configuration stored in the database (version {1})": "数据库中存储的配置（第 {1} 版）",
    "no configuration file to store: give --config FILE (or set WANGGE_CONFIG)": "没有可存入的配置文件：请用 --config 文件 指定（或设置 WANGGE_CONFIG）",
    "{1}: {2} holds a password, which would be stored in the database for anyone who reads it; take it out of the URL (use ~/.pgpass or PGPASSWORD)":
        "{1}：{2} 含有密码，存入数据库后任何能读取数据库的人都能看到；请从地址中去掉密码（改用 ~/.pgpass 或 PGPASSWORD）",
    "warning: the configuration stored in the database (version {1}) does not load, so the file's rules apply: {2}":
        "警告：数据库中存储的配置（第 {1} 版）无法加载，因此使用配置文件的规则：{2}",
    "the standby that serves reads is {1} s behind its primary": "提供读取的备库落后主库 {1} 秒",
    "the database is unavailable or busy; try again in a few seconds": "数据库暂不可用或正忙，请几秒后重试",
    "{1}: the database connection was lost; try again in a few seconds": "{1}：与数据库的连接已断开，请几秒后重试",
    "{1}: the database did not answer in time; try again in a few seconds": "{1}：数据库未能及时应答，请几秒后重试",
    "{1}: the database lacks schema steps {2}; open its primary once with this version first": "{1}：数据库缺少结构版本 {2}；请先用本版本打开一次其主库",
    "{1}: every database connection is busy; try again in a few seconds": "{1}：数据库连接全部占用，请几秒后重试",
    "{1}: not a PostgreSQL URL (postgresql://USER@HOST:PORT/DBNAME)": "{1}：不是 PostgreSQL 地址（postgresql://用户@主机:端口/库名）",
    "{1}: cannot connect to PostgreSQL (out of memory)": "{1}：无法连接 PostgreSQL（内存不足）",
    "{1}: cannot connect to PostgreSQL: {2}": "{1}：无法连接 PostgreSQL：{2}",
    "Households spread over the province's grids, imported after them (0: none).": "在全省网格中均匀生成的户数，导入网格后导入（0：不生成）。",
    "--households: {1} is outside 0…50000000": "--households：{1} 不在 0…50000000 范围内",
]
