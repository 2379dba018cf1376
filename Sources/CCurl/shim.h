#ifndef CLOUDCHAT_CCURL_SHIM_H
#define CLOUDCHAT_CCURL_SHIM_H

#include <curl/curl.h>

// curl_version_info takes the compile-time CURLVERSION_NOW, a macro.
static inline curl_version_info_data *cloudchat_curl_version_info(void) {
    return curl_version_info(CURLVERSION_NOW);
}

#endif
