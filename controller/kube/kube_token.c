#include "kube_token.h"
