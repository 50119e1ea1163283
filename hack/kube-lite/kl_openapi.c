/* kl_openapi: /openapi/v2 and /openapi/v3. */
#include "kl_server.h"

#include "kl_http.h"

void kl_openapi_serve(struct kl_server *srv, struct kl_http_conn *conn,
                      const struct kl_http_req *req) {
    (void)srv;
    (void)req;
    kl_send_status(conn, 404, "NotFound", "the server could not find the requested resource");
}
