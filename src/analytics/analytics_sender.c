/* One abortable HTTP POST with libcurl's multi interface: the transfer is
 * driven in 50 ms slices so the owner can abandon it at any time (close must
 * never wait on the network for more than its budget). */
#include <pthread.h>

#include <curl/curl.h>

#include "analytics/analytics_internal.h"

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static int g_curl_ok;
static void curl_init_once(void) { g_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }

static size_t discard(char *p, size_t size, size_t nmemb, void *ud) {
  (void)p;
  (void)ud;
  return size * nmemb;
}

int rr__an_http_init(void) {
  pthread_once(&g_curl_once, curl_init_once);
  return g_curl_ok ? RR_OK : RR_EINTERNAL;
}

int rr__an_http_post(const char *url, const char *body, size_t n, long timeout_ms, const int *abort_flag,
                     long *status) {
  *status = 0;
  pthread_once(&g_curl_once, curl_init_once);
  if (!g_curl_ok) return RR_SEND_FAIL;
  CURL *e = curl_easy_init();
  CURLM *m = curl_multi_init();
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
  int result = RR_SEND_FAIL;
  if (!e || !m || !h) goto done;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(e, CURLOPT_USERAGENT, "rerun-c-analytics");
  if (curl_multi_add_handle(m, e) != CURLM_OK) goto done;
  int running = 1;
  while (running) {
    if (__atomic_load_n(abort_flag, __ATOMIC_ACQUIRE)) {
      result = RR_SEND_ABORTED;
      curl_multi_remove_handle(m, e);
      goto done;
    }
    if (curl_multi_perform(m, &running) != CURLM_OK) break;
    if (running && curl_multi_poll(m, NULL, 0, 50, NULL) != CURLM_OK) break;
  }
  int left;
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(m, &left)))
    if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK) {
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
      if (*status >= 200 && *status < 300) result = RR_SEND_OK;
    }
  curl_multi_remove_handle(m, e);
done:
  if (m) curl_multi_cleanup(m);
  if (e) curl_easy_cleanup(e);
  curl_slist_free_all(h);
  return result;
}
