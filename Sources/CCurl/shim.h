#ifndef CLOUDCHAT_CCURL_SHIM_H
#define CLOUDCHAT_CCURL_SHIM_H

#include <curl/curl.h>

// curl_version_info takes the compile-time CURLVERSION_NOW, a macro.
static inline curl_version_info_data *cloudchat_curl_version_info(void) {
    return curl_version_info(CURLVERSION_NOW);
}

// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which
// Swift cannot call: one typed wrapper per argument type.
static inline CURLcode cloudchat_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cloudchat_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cloudchat_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cloudchat_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*cloudchat_curl_write_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode cloudchat_curl_easy_setopt_write_function(CURL *handle, cloudchat_curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

static inline CURLcode cloudchat_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode cloudchat_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode cloudchat_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

// CURLMsg keeps the transfer's result in a union.
static inline CURLcode cloudchat_curl_message_result(const CURLMsg *message) {
    return message->data.result;
}

#endif
