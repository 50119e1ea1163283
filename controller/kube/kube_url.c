#include "kube_url.h"
