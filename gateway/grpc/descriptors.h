/* The FileDescriptorSet of proto/ (protoc --descriptor_set_out, embedded by
 * the build into build/proto/descriptors.c), for server reflection. */
#ifndef PF_DESCRIPTORS_H
#define PF_DESCRIPTORS_H

#include <stddef.h>

extern const unsigned char pf_descriptors[];
extern const size_t pf_descriptors_len;

#endif
