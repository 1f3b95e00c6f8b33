/* Learning-rate schedules (ampc/optim.h): each sets every group's lr to a closed-form
 * function of the group's base lr and the schedule's step count, written as torch's
 * _get_closed_form_lr writes it (same operations, same order), so the lr sequence is a pure
 * function of the step and a restored count gives the same lrs.
 *
 * Base lrs are the groups' lrs when the schedule was made; a group added later joins with
 * its lr at the first step the schedule sees it. A warmup may own an `after` schedule: past
 * the warmup, the after-schedule's function runs on the same base lrs from its own step 0
 * (torch SequentialLR with one milestone). */
#include <math.h>
#include <stdlib.h>

#include <ampc/optim.h>

#include "core/error.h"
#include "optim/optim_internal.h"

typedef enum schedule_kind { SCHEDULE_STEP, SCHEDULE_COSINE, SCHEDULE_WARMUP } schedule_kind;

struct ampc_lr_schedule {
    schedule_kind kind;
    ampc_optimizer *optimizer; /* borrowed */
    double *base_lrs;          /* one per group the schedule has seen */
    int num_base_lrs;
    int64_t steps;
    bool owned;                /* the after-schedule of a warmup, which frees it */
    int64_t step_size;         /* step */
    double gamma;
    int64_t t_max;             /* cosine */
    double eta_min;
    int64_t warmup_steps;      /* warmup */
    double start_factor;
    ampc_lr_schedule *after;
};

/* The lr of a group with this base lr at this step. */
static double schedule_lr(const ampc_lr_schedule *schedule, double base, int64_t step)
{
    switch (schedule->kind) {
    case SCHEDULE_STEP:
        return base * pow(schedule->gamma, (double)(step / schedule->step_size));
    case SCHEDULE_COSINE:
        if (step >= schedule->t_max) return schedule->eta_min;
        return schedule->eta_min + (base - schedule->eta_min) *
                                       (1 + cos(M_PI * (double)step / (double)schedule->t_max)) /
                                       2;
    case SCHEDULE_WARMUP:
        if (schedule->after && step >= schedule->warmup_steps)
            return schedule_lr(schedule->after, base, step - schedule->warmup_steps);
        int64_t done = step < schedule->warmup_steps ? step : schedule->warmup_steps;
        return base * (schedule->start_factor + (1 - schedule->start_factor) * (double)done /
                                                    (double)schedule->warmup_steps);
    }
    AMPC_ASSERT(!"unknown schedule kind");
    return 0;
}

/* Sets every group's lr for the schedule's step, taking the base lr of groups it has not
 * seen yet. */
static ampc_status apply(const char *function, ampc_lr_schedule *schedule)
{
    int groups = ampc_optimizer_num_groups(schedule->optimizer);
    if (groups > schedule->num_base_lrs) {
        double *base_lrs = realloc(schedule->base_lrs, (size_t)groups * sizeof *base_lrs);
        if (!base_lrs) return ampc_fail_oom(function, (size_t)groups * sizeof *base_lrs);
        schedule->base_lrs = base_lrs;
        for (int group = schedule->num_base_lrs; group < groups; group++)
            base_lrs[group] = ampc_optimizer_group_lr(schedule->optimizer, group);
        schedule->num_base_lrs = groups;
    }
    for (int group = 0; group < groups; group++) {
        double lr = schedule_lr(schedule, schedule->base_lrs[group], schedule->steps);
        if (ampc_optimizer_set_group_lr(schedule->optimizer, group, lr))
            return ampc_error_status();
    }
    return AMPC_OK;
}

/* A schedule of `kind` at step 0, its lrs applied; the caller fills in the kind's fields
 * first through `fields`. */
static ampc_lr_schedule *schedule_new(const char *function, ampc_optimizer *optimizer,
                                      const ampc_lr_schedule *fields)
{
    ampc_lr_schedule *schedule = malloc(sizeof *schedule);
    if (!schedule) {
        ampc_fail_oom(function, sizeof *schedule);
        return NULL;
    }
    *schedule = *fields;
    schedule->optimizer = optimizer;
    if (apply(function, schedule)) {
        schedule->after = NULL; /* the caller still owns it on failure */
        ampc_lr_schedule_free(schedule);
        return NULL;
    }
    return schedule;
}

static ampc_status check_optimizer(const char *function, const ampc_optimizer *optimizer)
{
    return optimizer ? AMPC_OK : ampc_fail_null(function, "optimizer");
}

ampc_lr_schedule *ampc_lr_step_new(ampc_optimizer *optimizer, int64_t step_size, double gamma)
{
    if (check_optimizer(__func__, optimizer) ||
        ampc_optim_check_at_least(__func__, "step_size", step_size, 1) ||
        ampc_optim_check_nonnegative(__func__, "gamma", gamma))
        return NULL;
    ampc_lr_schedule fields = {.kind = SCHEDULE_STEP, .step_size = step_size, .gamma = gamma};
    return schedule_new(__func__, optimizer, &fields);
}

ampc_lr_schedule *ampc_lr_cosine_new(ampc_optimizer *optimizer, int64_t t_max, double eta_min)
{
    if (check_optimizer(__func__, optimizer) ||
        ampc_optim_check_at_least(__func__, "t_max", t_max, 1) ||
        ampc_optim_check_nonnegative(__func__, "eta_min", eta_min))
        return NULL;
    ampc_lr_schedule fields = {.kind = SCHEDULE_COSINE, .t_max = t_max, .eta_min = eta_min};
    return schedule_new(__func__, optimizer, &fields);
}

static ampc_status check_warmup(const char *function, const ampc_optimizer *optimizer,
                                int64_t warmup_steps, double start_factor,
                                const ampc_lr_schedule *after)
{
    if (check_optimizer(function, optimizer) ||
        ampc_optim_check_at_least(function, "warmup_steps", warmup_steps, 1))
        return ampc_error_status();
    if (!(start_factor > 0 && start_factor <= 1))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "start_factor is %g; expected 0 < start_factor <= 1", start_factor);
    if (after && after->optimizer != optimizer)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "after schedules another optimizer; expected a schedule of optimizer");
    if (after && after->owned)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "after already follows another warmup; expected a schedule of its own");
    return AMPC_OK;
}

ampc_lr_schedule *ampc_lr_warmup_new(ampc_optimizer *optimizer, int64_t warmup_steps,
                                     double start_factor, ampc_lr_schedule *after)
{
    if (check_warmup(__func__, optimizer, warmup_steps, start_factor, after)) {
        /* Ownership of `after` passed: it goes with the failed call (unless another owns it). */
        if (after && !after->owned) ampc_lr_schedule_free(after);
        return NULL;
    }
    ampc_lr_schedule fields = {.kind = SCHEDULE_WARMUP,
                               .warmup_steps = warmup_steps,
                               .start_factor = start_factor,
                               .after = after};
    ampc_lr_schedule *schedule = schedule_new(__func__, optimizer, &fields);
    if (!schedule) {
        ampc_lr_schedule_free(after);
        return NULL;
    }
    if (after) {
        after->owned = true;
        /* The after-schedule's making applied its step 0 (the base lrs themselves for step
         * and cosine); the warmup's bases are the after's, whatever it applied. */
        for (int group = 0; group < schedule->num_base_lrs && group < after->num_base_lrs;
             group++)
            schedule->base_lrs[group] = after->base_lrs[group];
        if (apply(__func__, schedule)) {
            ampc_lr_schedule_free(schedule);
            return NULL;
        }
    }
    return schedule;
}

ampc_status ampc_lr_schedule_step(ampc_lr_schedule *schedule)
{
    if (!schedule) return ampc_fail_null(__func__, "schedule");
    schedule->steps++;
    return apply(__func__, schedule);
}

int64_t ampc_lr_schedule_step_count(const ampc_lr_schedule *schedule)
{
    if (!schedule) return ampc_fail_null(__func__, "schedule"), 0;
    return schedule->steps;
}

ampc_status ampc_lr_schedule_set_step_count(ampc_lr_schedule *schedule, int64_t steps)
{
    if (!schedule) return ampc_fail_null(__func__, "schedule");
    if (ampc_optim_check_at_least(__func__, "steps", steps, 0)) return ampc_error_status();
    schedule->steps = steps;
    return apply(__func__, schedule);
}

void ampc_lr_schedule_free(ampc_lr_schedule *schedule)
{
    if (!schedule) return;
    ampc_lr_schedule_free(schedule->after);
    free(schedule->base_lrs);
    free(schedule);
}
