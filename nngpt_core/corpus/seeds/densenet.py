"""DenseNet: each layer concatenates its new feature maps to all earlier ones; transitions compress."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 24
GROWTH = 12
DEPTH = 4
STAGES = 3
KERNEL = 3
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm2d
DOWNSAMPLE = nn.AvgPool2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class DenseLayer(nn.Module):
    def __init__(self, in_channels, channels):
        super().__init__()
        self.norm = NORM(in_channels)
        self.act = ACTIVATION()
        self.conv = nn.Conv2d(in_channels, channels, KERNEL, 1, KERNEL // 2, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv(self.act(self.norm(x)))], 1)


class Transition(nn.Module):
    def __init__(self, in_channels, channels):
        super().__init__()
        self.norm = NORM(in_channels)
        self.act = ACTIVATION()
        self.conv = nn.Conv2d(in_channels, channels, 1, bias=False)

    def forward(self, x):
        return self.conv(self.act(self.norm(x)))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        stride = 2 if size >= 16 else 1
        size = size // stride
        channels = WIDTH
        self.stem = nn.Conv2d(in_channels, channels, KERNEL, stride, KERNEL // 2, bias=False)
        layers = []
        for stage in range(STAGES):
            if stage > 0:
                layers.append(Transition(channels, channels // 2))
                channels = channels // 2
                if size >= 4:
                    layers.append(DOWNSAMPLE(2))
                    size = size // 2
            for index in range(DEPTH):
                layers.append(DenseLayer(channels, GROWTH))
                channels = channels + GROWTH
        layers.append(NORM(channels))
        layers.append(ACTIVATION())
        self.body = nn.Sequential(*layers)
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
