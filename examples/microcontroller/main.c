/* A microcontroller's loop scoring sensor readings with the generated model (edgepack --targets c).
 * Build on the host to try it:   gcc -std=c99 -Wall -Wextra -Werror -pedantic main.c model.c -lm -o demo
 * On a board: add model.c to the firmware sources (Arduino: next to the .ino; ESP-IDF: the component's
 * SRCS) and call score() from the loop. No allocation; the model's tables live in flash (static const). */
#include <stdio.h>
#include "model.h"

/* Stand-ins for the board's sensors and settings (replace with real reads). */
static double read_tenure_months(void) { return 14.0; }
static double read_monthly_charges(void) { return 79.5; }

static int score(double *probability_of_churn) {
    edgepack_record r = {0};
    /* Numbers as double, NAN when a sensor has no value; categories as the strings the model knows. */
    r.tenure_months = read_tenure_months();
    r.senior_citizen = 0;
    r.monthly_charges = read_monthly_charges();
    r.total_charges = 14.0 * 79.5;
    r.support_calls = 2;
    r.data_gb = 31.4;
    r.contract = "month-to-month";
    r.internet_service = "fiber";
    r.payment_method = "electronic-check";
    double out[EDGEPACK_N_OUTPUTS];
    int label = edgepack_predict(&r, out);
    if (label < 0) return label; /* field -(label + 1) broke the package's rules */
    *probability_of_churn = out[1];
    return label;
}

int main(void) {
    double p = 0;
    int label = score(&p);
    if (label < 0) {
        printf("refused: field %s\n", edgepack_features[-label - 1]);
        return 1;
    }
    printf("label %s, P(churn) = %.4f\n", edgepack_classes[label], p);
    return 0;
}
