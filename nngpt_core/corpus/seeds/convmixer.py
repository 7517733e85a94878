"""ConvMixer: a patch embedding, then blocks of residual depthwise convolution and pointwise convolution."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 64
DEPTH = 4
GRID = 4
KERNEL = 5
ACTIVATION = nn.GELU
NORM = nn.BatchNorm2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class MixerBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.depthwise = nn.Sequential(nn.Conv2d(channels, channels, KERNEL, 1, KERNEL // 2, groups=channels), ACTIVATION(), NORM(channels))
        self.pointwise = nn.Sequential(nn.Conv2d(channels, channels, 1), ACTIVATION(), NORM(channels))

    def forward(self, x):
        return self.pointwise(x + self.depthwise(x))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        patch = max(1, min(in_shape[2], in_shape[3]) // GRID)
        channels = WIDTH
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, patch, patch), ACTIVATION(), NORM(channels))
        self.body = nn.Sequential(*[MixerBlock(channels) for index in range(DEPTH)])
        self.pool = POOL(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(self.pool(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
