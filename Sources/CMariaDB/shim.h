#ifndef CLOUDCHAT_CMARIADB_SHIM_H
#define CLOUDCHAT_CMARIADB_SHIM_H

#include <stddef.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>

// mysql_library_init is a macro in libmariadb; Swift cannot call macros.
static inline int cloudchat_mysql_library_init(void) {
    return mysql_library_init(0, NULL, NULL);
}

#endif
