#include "kube_error.h"
