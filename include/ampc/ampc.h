/* ampc: automatic mixed-precision training in C. Include this one header. */
#ifndef AMPC_H
#define AMPC_H

#include <ampc/amp_policy.h>
#include <ampc/amp_scaler.h>
#include <ampc/autograd.h>
#include <ampc/cpu.h>
#include <ampc/dtype.h>
#include <ampc/error.h>
#include <ampc/export.h>
#include <ampc/gemm.h>
#include <ampc/io.h>
#include <ampc/memory.h>
#include <ampc/models.h>
#include <ampc/nn.h>
#include <ampc/ops_conv.h>
#include <ampc/ops_linalg.h>
#include <ampc/ops_loss.h>
#include <ampc/ops_norm.h>
#include <ampc/ops_pointwise.h>
#include <ampc/ops_reduce.h>
#include <ampc/ops_shape.h>
#include <ampc/optim.h>
#include <ampc/random.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" */
AMPC_API const char *ampc_version(void);

#ifdef __cplusplus
}
#endif
#endif
