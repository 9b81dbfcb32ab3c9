#include "grpc_reflection.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "descriptors.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "grpc_batch.h"
#include "grpc_call.h"
#include "health.h"
#include "log.h"
#include "pb_codec.h"
#include "reflection_v1.pb-c.h"

typedef Grpc__Reflection__V1__ServerReflectionRequest Request;
typedef Grpc__Reflection__V1__ServerReflectionResponse Response;
typedef Google__Protobuf__FileDescriptorProto FileProto;
typedef Google__Protobuf__DescriptorProto MessageProto;

static const char *const methods[] = {
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
};
#define NMETHODS 2

/* One file of the set, with its bytes as the clients want them. */
struct file {
    const FileProto *proto;
    ProtobufCBinaryData bytes;
};

typedef struct pf_grpc_reflection {
    struct pf_grpc_service service; /* first */
    Google__Protobuf__FileDescriptorSet *set;
    struct file *files;
    size_t nfiles;
} pf_grpc_reflection;

/* ---- the index -------------------------------------------------------- */

/* What follows "scope." in symbol, or NULL when symbol is not in scope; an
 * empty scope holds every symbol. */
static const char *in_scope(const char *scope, const char *symbol)
{
    if (!scope || !*scope)
        return symbol;
    size_t n = strlen(scope);
    return strncmp(symbol, scope, n) == 0 && symbol[n] == '.' ? symbol + n + 1 : NULL;
}

/* symbol is relative to m's scope. Nested types and enums: "Outer.Inner". */
static bool message_defines(const MessageProto *m, const char *symbol)
{
    if (strcmp(symbol, m->name) == 0)
        return true;
    const char *inner = in_scope(m->name, symbol);
    if (!inner)
        return false;
    for (size_t i = 0; i < m->n_enum_type; i++)
        if (strcmp(inner, m->enum_type[i]->name) == 0)
            return true;
    for (size_t i = 0; i < m->n_nested_type; i++)
        if (message_defines(m->nested_type[i], inner))
            return true;
    return false;
}

static bool file_defines(const FileProto *f, const char *symbol)
{
    symbol = in_scope(f->package, symbol);
    if (!symbol)
        return false;
    for (size_t i = 0; i < f->n_message_type; i++)
        if (message_defines(f->message_type[i], symbol))
            return true;
    for (size_t i = 0; i < f->n_enum_type; i++)
        if (strcmp(symbol, f->enum_type[i]->name) == 0)
            return true;
    for (size_t i = 0; i < f->n_service; i++) {
        const Google__Protobuf__ServiceDescriptorProto *s = f->service[i];
        if (strcmp(symbol, s->name) == 0)
            return true;
        const char *method = in_scope(s->name, symbol);
        for (size_t j = 0; method && j < s->n_method; j++)
            if (strcmp(method, s->method[j]->name) == 0)
                return true;
    }
    return false;
}

static struct file *file_named(pf_grpc_reflection *r, const char *name)
{
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].proto->name, name) == 0)
            return &r->files[i];
    return NULL;
}

/* f and every file it imports, each once, into out (r->nfiles entries). */
static size_t with_dependencies(pf_grpc_reflection *r, struct file *f, ProtobufCBinaryData *out)
{
    size_t n = 0;
    out[n++] = f->bytes;
    /* Files in a descriptor set come after their imports: a walk through
     * the listed dependencies, repeated, reaches all. */
    for (size_t i = 0; i < n; i++) {
        const FileProto *p = NULL;
        for (size_t k = 0; k < r->nfiles; k++)
            if (r->files[k].bytes.data == out[i].data)
                p = r->files[k].proto;
        for (size_t d = 0; p && d < p->n_dependency; d++) {
            struct file *dep = file_named(r, p->dependency[d]);
            bool seen = false;
            for (size_t k = 0; dep && k < n; k++)
                seen = seen || out[k].data == dep->bytes.data;
            if (dep && !seen && n < r->nfiles)
                out[n++] = dep->bytes;
        }
    }
    return n;
}

static int index_descriptors(pf_grpc_reflection *r)
{
    r->set = google__protobuf__file_descriptor_set__unpack(NULL, pf_descriptors_len,
                                                          pf_descriptors);
    if (!r->set)
        return -1;
    r->nfiles = r->set->n_file;
    r->files = calloc(r->nfiles, sizeof(*r->files));
    if (!r->files)
        return -1;
    for (size_t i = 0; i < r->nfiles; i++) {
        const FileProto *p = r->set->file[i];
        r->files[i].proto = p;
        r->files[i].bytes.len = google__protobuf__file_descriptor_proto__get_packed_size(p);
        r->files[i].bytes.data = malloc(r->files[i].bytes.len ? r->files[i].bytes.len : 1);
        if (!r->files[i].bytes.data)
            return -1;
        google__protobuf__file_descriptor_proto__pack(p, r->files[i].bytes.data);
    }
    return 0;
}

/* ---- answers ------------------------------------------------------------ */

static void answer(pf_grpc_reflection *r, const Request *req, grpc_byte_buffer *into)
{
    Response res = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    Grpc__Reflection__V1__FileDescriptorResponse files =
        GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    Grpc__Reflection__V1__ListServiceResponse list =
        GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
    Grpc__Reflection__V1__ErrorResponse error = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
    Grpc__Reflection__V1__ServiceResponse services[16];
    Grpc__Reflection__V1__ServiceResponse *service_ptrs[16];
    char names[16][128];
    res.valid_host = req->host;
    res.original_request = (Request *)req;

    struct file *f = NULL;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        for (size_t i = 0; i < r->nfiles; i++) {
            const FileProto *p = r->files[i].proto;
            for (size_t j = 0; j < p->n_service && list.n_service < 16; j++) {
                size_t k = list.n_service++;
                snprintf(names[k], sizeof(names[k]), "%s%s%s", p->package ? p->package : "",
                         p->package && *p->package ? "." : "", p->service[j]->name);
                services[k] = (Grpc__Reflection__V1__ServiceResponse)
                    GRPC__REFLECTION__V1__SERVICE_RESPONSE__INIT;
                services[k].name = names[k];
                service_ptrs[k] = &services[k];
            }
        }
        list.service = service_ptrs;
        res.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        res.list_services_response = &list;
        pf_pb_pack_into(into, &res.base);
        return;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        f = file_named(r, req->file_by_filename);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        for (size_t i = 0; !f && i < r->nfiles; i++)
            if (file_defines(r->files[i].proto, req->file_containing_symbol))
                f = &r->files[i];
        break;
    default:
        break; /* extensions: proto3 files here declare none */
    }
    /* The file list is the call's own: every completion-queue thread
     * answers reflection requests at once. */
    ProtobufCBinaryData *file_list = f ? calloc(r->nfiles, sizeof(*file_list)) : NULL;
    if (file_list) {
        files.n_file_descriptor_proto = with_dependencies(r, f, file_list);
        files.file_descriptor_proto = file_list;
        res.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
        res.file_descriptor_response = &files;
    } else {
        error.error_code = f ? GRPC_STATUS_RESOURCE_EXHAUSTED
                           : req->message_request_case ==
                                   GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST__NOT_SET
                               ? GRPC_STATUS_INVALID_ARGUMENT
                               : GRPC_STATUS_NOT_FOUND;
        error.error_message = f ? (char *)pf_strerror(PF_ENOMEM)
                              : error.error_code == GRPC_STATUS_NOT_FOUND ? (char *)"not found"
                                                                          : (char *)"empty request";
        res.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
        res.error_response = &error;
    }
    pf_pb_pack_into(into, &res.base);
    free(file_list);
}

/* ---- the streams ------------------------------------------------------ */

/* One ServerReflectionInfo stream: read a request, send its answer, again,
 * until the client half-closes; then status OK. */
struct reflection_call {
    struct pf_grpc_call base; /* first */
    grpc_byte_buffer *recv_bb;
    bool recv_pending, input_done, md_sent, status_sent;
};

static void call_destroy(struct pf_grpc_call *base)
{
    struct reflection_call *c = (struct reflection_call *)base;
    if (c->recv_bb)
        grpc_byte_buffer_destroy(c->recv_bb);
}

static void pump(struct pf_grpc_call *base)
{
    struct reflection_call *c = (struct reflection_call *)base;
    if (base->dead || c->status_sent || base->send_pending)
        return;
    if (c->input_done || pf_health_draining()) {
        static grpc_slice no_details;
        struct pf_grpc_batch b;
        pf_grpc_batch_send(&b, &c->md_sent);
        pf_grpc_batch_status(&b, GRPC_STATUS_OK, &no_details);
        c->status_sent = true;
        base->send_pending = pf_grpc_call_start_batch(base, b.ops, b.n, PF_GRPC_OP_SEND);
        return;
    }
    if (!c->recv_pending) {
        grpc_op op = { .op = GRPC_OP_RECV_MESSAGE };
        op.data.recv_message.recv_message = &c->recv_bb;
        c->recv_pending = pf_grpc_call_start_batch(base, &op, 1, PF_GRPC_OP_RECV);
    }
}

static void on_recv(struct pf_grpc_call *base, bool ok)
{
    struct reflection_call *c = (struct reflection_call *)base;
    c->recv_pending = false;
    if (!ok || !c->recv_bb) {
        c->input_done = true;
        base->dead = base->dead || !ok;
        return;
    }
    Request *req = (Request *)pf_pb_unpack(c->recv_bb, &grpc__reflection__v1__server_reflection_request__descriptor);
    grpc_byte_buffer_destroy(c->recv_bb);
    c->recv_bb = NULL;
    if (!req) {
        c->input_done = true; /* a bad request ends the stream */
        return;
    }
    answer((pf_grpc_reflection *)base->serving->service, req, pf_grpc_call_send_buffer(base));
    grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
    struct pf_grpc_batch b;
    pf_grpc_batch_send(&b, &c->md_sent);
    pf_grpc_batch_message(&b, base->send_bb);
    base->send_pending = pf_grpc_call_start_batch(base, b.ops, b.n, PF_GRPC_OP_SEND);
}

static void on_new(struct pf_grpc_call *base, bool ok)
{
    (void)ok;
    pf_grpc_call_watch_close(base);
}

static const struct pf_grpc_call_kind reflection_kind = {
    .name = "reflection",
    .on = { [PF_GRPC_OP_NEW] = on_new, [PF_GRPC_OP_RECV] = on_recv },
    .pump = pump, .destroy = call_destroy,
};

/* ---- life cycle ---------------------------------------------------------- */

static void reflection_free(struct pf_grpc_service *svc)
{
    pf_grpc_reflection *r = (pf_grpc_reflection *)svc;
    for (size_t i = 0; r->files && i < r->nfiles; i++)
        free(r->files[i].bytes.data);
    free(r->files);
    if (r->set)
        google__protobuf__file_descriptor_set__free_unpacked(r->set, NULL);
    free(r);
}

struct pf_grpc_service *pf_grpc_reflection_register(grpc_server *server)
{
    pf_grpc_reflection *r = calloc(1, sizeof(*r));
    if (!r || index_descriptors(r) < 0) {
        pf_error("grpc: cannot read the embedded descriptors; reflection is off");
        if (r)
            reflection_free(&r->service);
        return NULL;
    }
    r->service.nmethods = NMETHODS;
    r->service.kind = &reflection_kind;
    r->service.call_size = sizeof(struct reflection_call);
    r->service.destroy = reflection_free;
    for (int i = 0; i < NMETHODS; i++) {
        r->service.path[i] = methods[i];
        r->service.method[i] = grpc_server_register_method(server, methods[i], NULL,
                                                           GRPC_SRM_PAYLOAD_NONE, 0);
    }
    return &r->service;
}
