#include "http_static.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_reply.h"
#include "lws_env.h"

/* lws has already normalised the path ("..", "%2e%2e", "//"); this is the
 * second lock on the door, not the first. */
static bool safe_path(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/' || memchr(path, '\0', len))
        return false;
    size_t start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        size_t segment = i - start;
        if ((segment == 1 && path[start] == '.') ||
            (segment == 2 && path[start] == '.' && path[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

/* --web-root + path, with index.html for a path that names a folder. */
static bool file_name(struct lws *wsi, char *out, size_t size)
{
    char *path;
    int len;
    if (lws_http_get_uri_and_method(wsi, &path, &len) < 0 || len <= 0 ||
        !safe_path(path, (size_t)len))
        return false;
    const char *index = path[len - 1] == '/' ? "index.html" : "";
    int n = snprintf(out, size, "%s%.*s%s", pf_lws_env(wsi)->cfg->web_root, len, path, index);
    return n > 0 && (size_t)n < size;
}

/* The whole file, if it is a regular file of at most PF_STATIC_FILE_MAX
 * bytes; NULL otherwise. */
static char *read_whole(const char *name, size_t *len)
{
    int fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PF_STATIC_FILE_MAX)
        goto out;
    data = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (data && got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n <= 0) {
            free(data);
            data = NULL;
            break;
        }
        got += (size_t)n;
    }
    *len = got;
out:
    close(fd);
    return data;
}

int pf_http_static_serve(struct lws *wsi, bool close)
{
    if (pf_http_is_h2_stream(wsi))
        return 0; /* lws's own file serving is fine there */
    char name[4096];
    size_t len = 0;
    char *data = file_name(wsi, name, sizeof(name)) ? read_whole(name, &len) : NULL;
    if (!data)
        return 0;
    const char *type = lws_get_mimetype(name, NULL);
    if (!type)
        type = "application/octet-stream";
    int rc = close ? pf_http_reply_then_close(wsi, HTTP_STATUS_OK, type, data, len)
                   : pf_http_reply(wsi, HTTP_STATUS_OK, type, data, len, NULL);
    free(data);
    return rc;
}
